"""Survey forms: consent with the optional profile, and one clip's answers.

Both carry `website`, a honeypot: hidden from people (off-screen, out of the tab order, not
autofilled), so a filled one means a bot and the form is refused without storing anything.
"""

from __future__ import annotations

from django import forms

from .models import Experience, Familiarity, Origin

HONEYPOT = "website"
SCALE = [(str(i), str(i)) for i in range(1, 6)]


class HoneypotMixin(forms.Form):
    website = forms.CharField(
        required=False,
        label="Leave this empty",
        widget=forms.TextInput(attrs={"tabindex": "-1", "autocomplete": "off"}),
    )

    def is_bot(self) -> bool:
        return bool((self.data.get(HONEYPOT) or "").strip())


class ConsentForm(HoneypotMixin):
    consent = forms.BooleanField(
        required=True,
        label="I have read the above and agree to take part.",
        error_messages={"required": "Please tick the box to take part (or simply leave)."},
    )
    experience = forms.ChoiceField(
        required=False,
        label="Your musical experience",
        choices=[("", "Rather not say"), *Experience.choices],
    )
    familiarity = forms.ChoiceField(
        required=False,
        label="How familiar are you with folk dance tunes (jigs, reels, hornpipes)?",
        choices=[("", "Rather not say"), *Familiarity.choices],
    )


class AnswerForm(HoneypotMixin):
    clip = forms.CharField(widget=forms.HiddenInput, max_length=40)
    origin = forms.ChoiceField(
        choices=Origin.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Please choose a person or a computer."},
    )
    confidence = forms.TypedChoiceField(
        choices=SCALE,
        coerce=int,
        widget=forms.RadioSelect,
        label="How sure are you?",
        error_messages={"required": "Please say how sure you are."},
    )
    liking = forms.TypedChoiceField(
        choices=SCALE,
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": "Please rate how much you like it."},
    )
    coherence = forms.TypedChoiceField(
        choices=SCALE,
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": "Please rate how coherent it is."},
    )
    comment = forms.CharField(
        required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, survey=None, **kwargs):
        super().__init__(*args, **kwargs)
        if survey is not None:
            self.fields["origin"].label = survey.origin_question
            self.fields["liking"].label = survey.liking_question
            self.fields["coherence"].label = survey.coherence_question
            self.fields["comment"].label = survey.comment_question
            if not survey.ask_comment:
                del self.fields["comment"]
