"""The gallery: every piece, filtered and sorted, and its cards for infinite scroll."""

from __future__ import annotations

import logging

from django.core.paginator import Paginator
from django.http import (
    HttpRequest,
    HttpResponse,
    JsonResponse,
)
from django.shortcuts import render
from django.utils.functional import cached_property
from django.views.decorators.http import require_GET

from generator import selectors
from generator.forms import (
    GalleryFilterForm,
)
from generator.views.helpers import PAGE_SIZES, card_html, decorate, page_size

log = logging.getLogger(__name__)


class CappedPaginator(Paginator):
    """Counts at most `cap` rows. Counting every piece of a large gallery costs more than the
    page itself, and nobody pages 100 pages deep: beyond the cap the page says "more than"
    and asks for a filter or a sort (oldest first reaches the other end)."""

    cap = 2400

    @cached_property
    def count(self) -> int:
        n = self.object_list.order_by().values("pk")[: self.cap + 1].count()
        self.capped = n > self.cap
        return min(n, self.cap)


@require_GET
def gallery(request: HttpRequest) -> HttpResponse:
    form = GalleryFilterForm(request.GET or None)
    filters = form.filters() if request.GET else {}
    ordering = selectors.piece_ordering(filters.get("sort"))
    paginator = CappedPaginator(selectors.piece_list(filters=filters), page_size(request))
    page = paginator.get_page(request.GET.get("page"))
    page.object_list = decorate(selectors.piece_page_rows(page.object_list))
    active = {k: v for k, v in filters.items() if k != "sort"}
    return render(
        request,
        "generator/gallery.html",
        {
            "form": form,
            "page": page,
            "pieces": page.object_list,
            "ordering": ordering,
            "asked_sort": filters.get("sort", "newest"),
            "filtered": bool(active),
            "page_sizes": PAGE_SIZES,
            "per_page": paginator.per_page,
        },
    )


@require_GET
def piece_cards(request: HttpRequest) -> JsonResponse:
    """Cards of the given pieces, for pages that wait for audio to be rendered."""
    ids = [int(x) for x in request.GET.get("ids", "").split(",") if x.strip().isdigit()]
    pieces = decorate(selectors.pieces_by_ids(ids=ids))
    return JsonResponse(
        {
            "cards": {
                str(p.pk): {"audio": bool(p.audio), "html": card_html(request, p)} for p in pieces
            }
        }
    )
