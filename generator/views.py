"""Placeholder pages; the site's pages are built in their own change."""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404

from .models import Corpus, GenerationJob, Piece, TrainingRun, Tune


def gallery(request):
    return HttpResponse(f"{Piece.objects.count()} pieces")


def piece_detail(request, pk):
    piece = get_object_or_404(Piece, pk=pk)
    return HttpResponse(piece.title)


def run_detail(request, pk):
    return HttpResponse(str(get_object_or_404(TrainingRun, pk=pk)))


def corpus_detail(request, pk):
    return HttpResponse(str(get_object_or_404(Corpus, pk=pk)))


def tune_detail(request, pk):
    return HttpResponse(str(get_object_or_404(Tune, pk=pk)))


def job_detail(request, pk):
    return HttpResponse(str(get_object_or_404(GenerationJob, pk=pk)))
