"""Query-string filters shared by every list of the API.

``IdFilter``: an id filter that takes whole numbers in the database's id range only. A
plain ``NumberFilter`` accepts ``5.9e+22`` and the database overflows (a 500); a model
choice filter answers 400 for ids that do not exist and 200-empty for other courses'
ids, which tells which ids exist. Here a well-formed id never gives an error (unknown
and invisible ids both filter to an empty list) and a malformed one is a 400.
"""

from __future__ import annotations

import django_filters
from django import forms

MAX_ID = 2**63 - 1


class IdFilter(django_filters.Filter):
    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)
