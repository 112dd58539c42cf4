"""Test support shipped for hosts.

Hypothesis strategies for every public type (:mod:`crmcore.testing.strategies`)
and the storage contract suites every adapter must pass
(:mod:`crmcore.testing.contracts`).

Needs the ``testing`` extra (hypothesis, pytest). Nothing in crmcore imports it.
"""
