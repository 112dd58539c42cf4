from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from crmcore.domain import CustomFieldSchema, FieldDef, FieldType
from crmcore.testing import strategies as cst


@given(cst.field_defs(), st.data())
def test_canonical_custom_values_are_fixed_points(field: FieldDef, data: st.DataObject) -> None:
    raw_values = {
        FieldType.TEXT: st.text(max_size=20),
        FieldType.INTEGER: st.integers(),
        FieldType.DECIMAL: st.decimals(allow_nan=False, allow_infinity=False),
        FieldType.BOOLEAN: st.booleans(),
        FieldType.DATE: st.dates(),
        FieldType.DATETIME: cst.timestamps(),
        FieldType.CHOICE: st.sampled_from(field.allowed_values or ("x",)),
        FieldType.MULTI_CHOICE: st.lists(st.sampled_from(field.allowed_values or ("x",))),
    }
    value = data.draw(raw_values[field.type])
    canonical = field.canonical(value)
    assert field.canonical(field.typed(canonical)) == canonical
    assert field.canonical(canonical) == canonical


@given(cst.field_defs())
def test_schema_validation_accepts_its_own_output(field: FieldDef) -> None:
    schema = CustomFieldSchema((field,))
    if field.required:
        return
    assert schema.validate(schema.validate({})) == schema.validate({})
