"""Application services: use cases that load through ports, call the domain, save and publish.

Each service takes its collaborators (a unit of work, a clock, an id factory)
as arguments; nothing here reads configuration or connects to anything. The
modules: ``cleaning`` and ``importing`` (imports), ``registration`` (duplicate
check), ``lead_conversion``, ``merge`` (merge, unmerge, merge clusters) and
``reclassification`` (lifecycle stages and value tiers) and ``time_rules`` (due actions,
each issued once).

May import: everything below it (domain, lifecycle, segments, matching, merge,
ports, errors, clock); no infrastructure.
"""
