"""The custom fields a playbook adds to contacts and deals (crm/fields.py)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from config.values import KEY, Label, Strict

FIELD_TYPES = ("text", "number", "money", "date", "choice", "multi", "phone", "email", "url")
FieldType = Literal["text", "number", "money", "date", "choice", "multi", "phone", "email", "url"]


class FieldSpec(Strict):
    """A field a team adds to its contacts or deals: "city", "product", "contract end"."""

    key: str = Field(pattern=KEY)
    of: Literal["contact", "deal"]
    label: Label
    type: FieldType
    # Choice and multi-choice: option key -> label, in the order the buttons show them.
    options: dict[str, Label] = Field(default_factory=dict)
    # Stages a deal may enter only with this field set (a press or a board move asks first).
    required_in: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _options(self) -> FieldSpec:
        if self.type in ("choice", "multi"):
            if not self.options:
                raise ValueError(f"a {self.type} field needs options")
            for key in self.options:
                if not re.match(KEY, key):
                    raise ValueError(f"option {key!r} is not a key like basic or pro_2")
        elif self.options:
            raise ValueError(f"a {self.type} field has no options")
        return self

    @property
    def choices(self) -> bool:
        return self.type in ("choice", "multi")
