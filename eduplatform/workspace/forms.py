"""Forms of the workspace. They check shapes; the rules (score range, release) are the services'."""

from __future__ import annotations

from django import forms
from django.forms import formset_factory

LEVEL_SLOTS = 4  # level rows shown per rubric criterion


class ReviewForm(forms.Form):
    ACTIONS = [
        ("accept", "Accept the AI score"),
        ("save", "Save my score"),
        ("release", "Release to the student"),
        ("withdraw", "Withdraw the release"),
        ("comment", "Save the comment"),
        ("take_over", "Review it anyway"),
    ]
    action = forms.ChoiceField(choices=ACTIONS)
    score = forms.DecimalField(required=False, max_digits=7, decimal_places=2, label="Your score")
    comment = forms.CharField(
        required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 3}), label="Comment to the student"
    )
    then = forms.ChoiceField(choices=[("stay", "stay"), ("next", "next")], required=False)


class GroupActionForm(forms.Form):
    ACTIONS = [("grade", "Grade"), ("remove", "Remove"), ("split", "Split off"), ("merge", "Merge")]
    action = forms.ChoiceField(choices=ACTIONS)
    members = forms.TypedMultipleChoiceField(coerce=int, required=False, choices=())
    score = forms.DecimalField(required=False, max_digits=7, decimal_places=2)
    comment = forms.CharField(required=False, max_length=4000)
    release = forms.BooleanField(required=False)
    into = forms.TypedChoiceField(coerce=int, required=False, choices=())

    def __init__(self, *args, member_ids=(), other_groups=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["members"].choices = [(i, i) for i in member_ids]
        self.fields["into"].choices = [(g, g) for g in other_groups]


class AssignmentForm(forms.Form):
    title = forms.CharField(max_length=255)
    instructions = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=20000,
        label="Question / instructions for students",
    )
    accepts_text = forms.BooleanField(required=False, initial=True, label="Typed answers")
    accepts_image = forms.BooleanField(required=False, label="Photos of written work")
    accepts_audio = forms.BooleanField(required=False, label="Spoken answers (recordings)")
    min_score = forms.DecimalField(max_digits=7, decimal_places=2, initial=0, label="Lowest score")
    max_score = forms.DecimalField(max_digits=7, decimal_places=2, initial=10, label="Highest score")
    max_attempts = forms.IntegerField(min_value=1, max_value=100, initial=3, label="Attempts allowed")
    due_at = forms.DateTimeField(required=False, label="Due (YYYY-MM-DD HH:MM, optional)")
    analytic = forms.BooleanField(
        required=False,
        label="Score each rubric criterion on its own points (the total is their sum)",
        help_text="Otherwise the criteria are checked like key points and the score is one holistic score.",
    )
    release = forms.ChoiceField(
        choices=[
            ("manual", "I release grades myself after reviewing"),
            ("auto", "Release confident, unflagged AI grades automatically"),
        ],
        initial="manual",
        widget=forms.RadioSelect,
        label="How grades reach students",
    )
    auto_release_confidence = forms.FloatField(
        min_value=0, max_value=1, initial=0.8, label="Auto-release only at confidence at least"
    )
    review_sample_rate = forms.FloatField(
        min_value=0, max_value=1, initial=0.1, label="Share of confident grades also sent to review (quality check)"
    )

    def clean(self):
        data = super().clean()
        if not any(data.get(k) for k in ("accepts_text", "accepts_image", "accepts_audio")):
            self.add_error(None, "Choose at least one way to answer (typed, photo or spoken).")
        lo, hi = data.get("min_score"), data.get("max_score")
        if lo is not None and hi is not None and hi <= lo:
            self.add_error("max_score", "The highest score must be above the lowest score.")
        return data

    @property
    def modalities(self) -> list[str]:
        d = self.cleaned_data
        return [
            m
            for m, key in (("text", "accepts_text"), ("image", "accepts_image"), ("audio", "accepts_audio"))
            if d.get(key)
        ]


class TextRowForm(forms.Form):
    text = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))


class CriterionForm(forms.Form):
    name = forms.CharField(required=False, max_length=255, label="Criterion")
    description = forms.CharField(
        required=False, max_length=4000, label="What full credit looks like", widget=forms.Textarea(attrs={"rows": 2})
    )
    points = forms.DecimalField(required=False, max_digits=7, decimal_places=2, min_value=0, label="Points")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for i in range(1, LEVEL_SLOTS + 1):
            self.fields[f"level_{i}_label"] = forms.CharField(required=False, max_length=80, label=f"Level {i}")
            self.fields[f"level_{i}_points"] = forms.DecimalField(
                required=False, max_digits=7, decimal_places=2, min_value=0, label=f"Level {i} points"
            )
            self.fields[f"level_{i}_descriptor"] = forms.CharField(
                required=False, max_length=1000, label=f"Level {i} descriptor"
            )

    def clean(self):
        data = super().clean()
        if data.get("name") and data.get("points") is None:
            self.add_error("points", "Give the criterion's points.")
        return data

    def level_rows(self):
        return [
            (self[f"level_{i}_label"], self[f"level_{i}_points"], self[f"level_{i}_descriptor"])
            for i in range(1, LEVEL_SLOTS + 1)
        ]

    def as_criterion(self) -> dict:
        d = self.cleaned_data
        levels = [
            {
                "label": d.get(f"level_{i}_label") or "",
                "points": d.get(f"level_{i}_points") or 0,
                "descriptor": d.get(f"level_{i}_descriptor") or "",
            }
            for i in range(1, LEVEL_SLOTS + 1)
            if d.get(f"level_{i}_label")
        ]
        return {
            "name": d.get("name") or "",
            "description": d.get("description") or "",
            "points": d.get("points") or 0,
            "levels": levels,
        }

    @staticmethod
    def initial_for(criterion) -> dict:
        data = {"name": criterion.name, "description": criterion.description, "points": criterion.points}
        for i, lv in enumerate((criterion.levels or [])[:LEVEL_SLOTS], start=1):
            data.update(
                {
                    f"level_{i}_label": lv.get("label", ""),
                    f"level_{i}_points": lv.get("points", ""),
                    f"level_{i}_descriptor": lv.get("descriptor", ""),
                }
            )
        return data


ReferenceFormSet = formset_factory(TextRowForm, extra=1, max_num=20, absolute_max=20, validate_max=True)
KeyPointFormSet = formset_factory(TextRowForm, extra=2, max_num=30, absolute_max=30, validate_max=True)
CriterionFormSet = formset_factory(CriterionForm, extra=1, max_num=30, absolute_max=30, validate_max=True)
