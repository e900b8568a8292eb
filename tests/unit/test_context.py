"""The request context travels with every message as plain data, and comes back whole."""

from __future__ import annotations

from dataclasses import asdict

from hypothesis import given
from hypothesis import strategies as st

from replisim.actors.context import RequestContext

CONTEXTS = st.builds(
    RequestContext, st.text(), st.text(), st.booleans(), st.text(), st.lists(st.text(), max_size=3).map(tuple)
)


@given(CONTEXTS)
def test_to_dict_carries_every_field_and_from_dict_restores_it(context: RequestContext) -> None:
    assert context.to_dict() == asdict(context)  # a field added to the class is not forgotten
    assert RequestContext.from_dict(context.to_dict()) == context
