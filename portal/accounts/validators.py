from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

br_number_validator = RegexValidator(
    regex=r"^\d{8}$",
    message=_("A Business Registration number is exactly 8 digits."),
    code="br_number",
)
