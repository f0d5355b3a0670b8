from django import forms
from django.utils.translation import gettext_lazy as _


class CentreClientForm(forms.Form):
    name = forms.CharField(
        label=_("Client name"),
        max_length=100,
        help_text=_('Who will use the token, e.g. "AISC Slurm controller".'),
    )
