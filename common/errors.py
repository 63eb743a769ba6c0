"""The one exception services raise when they refuse a request, with the field it is about.

No Django here: services import it, and every interface turns it into its own answer
without reading the message: the API into an error body whose `fields` name the request
fields, a form into `form.add_error(field, ...)`, a command into its error line. Where an
interface calls a field by another name, it says so in a small table of its own (see
`common.api.errors.service_errors` and `common.forms.add_service_error`).
"""

from __future__ import annotations

from collections.abc import Iterable


def sentence(text: str) -> str:
    """Services write messages as clauses ("temperature must be ..."); people read sentences.
    A clause that begins with a setting's own name ("page_top_p must be ...") keeps it as
    it is typed: "Page_top_p" is no name anyone knows."""
    text = str(text).strip()
    if "_" in text.split(" ", 1)[0]:
        return text
    return text[:1].upper() + text[1:] if text else text


class ServiceError(ValueError):
    """A request a service refuses; nothing was written.

    `field` names the input the refusal is about, by the service's keyword (`temperature`,
    `preset`, `primer_midi`, ...), or None when it is about the request as a whole.
    A service that finds several independent faults at once (a key without a meter *and*
    an opening without a key) raises one error carrying the rest in `others`, so a form can
    mark every field in one answer. It stays a ValueError: `except ValueError` still works.
    """

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        others: Iterable[ServiceError] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.others: tuple[ServiceError, ...] = tuple(others)

    @classmethod
    def of(cls, errors: list[ServiceError]) -> ServiceError:
        """One error standing for `errors` (at least one): the first, carrying the rest."""
        first, *rest = errors
        first.others = (*first.others, *rest)
        return first

    def items(self) -> list[tuple[str | None, str]]:
        """(field, message) of this refusal and of every other it carries, first first."""
        return [(self.field, self.message)] + [
            item for other in self.others for item in other.items()
        ]


class UploadTooLarge(ServiceError):
    """An uploaded file larger than settings.MAX_UPLOAD_BYTES (the API answers 413)."""
