"""Issue 11 on the run report: parse, abc2midi and bar-length rates, idiom and copies per
epoch, and the targets panel, from pieces whose validity the real checker measured."""

from __future__ import annotations

import pytest

from evaluation import services
from generator.models import Piece
from musiclib.render import abc_validity
from tests.evaluation.helpers import make_piece

pytestmark = pytest.mark.django_db

GOOD = (
    "X:1\nT:Good\nM:4/4\nL:1/8\nK:G\nGABc dedB|dedB dedB|c2ec B2dB|c2A2 A2BA|"
    "GABc dedB|dedB dedB|c2ec B2dB|A2F2 G4|]\n"
)
# Plays no more (a tie to a chord abc2midi cannot follow), and half its checked bars are long.
TIED = (
    "X:1\nT:Tied\nM:4/4\nL:1/8\nK:G\nGABc dedB|dedB dedB-|[CEG]-c2ec B2dB|c2A2 A2BA|"
    "GABc dedB|dedB ded|c2ec B2dB2|A2F2 G4|]\n"
)
SILENT = "X:1\nT:Silence\nM:4/4\nL:1/8\nK:C\nz8|z8|\n"  # no notes: does not parse (but plays)


def measured_piece(run, *, text: str, checkpoint=None, epoch_sample: bool = True) -> Piece:
    """A piece of `run` whose validity is what `abc_validity` says of its text."""
    piece = make_piece(run, text=text, checkpoint=checkpoint, epoch_sample=epoch_sample)
    v = abc_validity(abc=text)
    piece.parses, piece.plays, piece.bar_accuracy = v.parses, v.plays, v.bar_accuracy
    piece.validity_detail = v.as_dict()
    piece.save()
    return piece


@pytest.fixture
def two_epoch_run(tiny_corpus):
    from tests.factories import make_trained_run

    run = make_trained_run(tiny_corpus, epochs=2)
    # The tiny model's own samples are noise of unknown validity: replace them with pieces
    # whose rates are known.
    Piece.objects.filter(run=run).delete()
    first, second = run.checkpoints.order_by("epoch")
    measured_piece(run, text=GOOD, checkpoint=first)
    measured_piece(run, text=TIED, checkpoint=first)
    measured_piece(run, text=SILENT, checkpoint=first)
    measured_piece(run, text=GOOD, checkpoint=second)
    measured_piece(run, text=GOOD.replace("T:Good", "T:Again"), checkpoint=second)
    return run


def test_pooled_bar_rate_counts_every_checked_bar_once():
    long_right = Piece(bar_accuracy=1.0, validity_detail={"n_bars_checked": 30})
    short_wrong = Piece(bar_accuracy=0.0, validity_detail={"n_bars_checked": 2})
    unchecked = Piece(bar_accuracy=None, validity_detail={"n_bars_checked": 0})
    assert services.pooled_bar_rate([long_right, short_wrong, unchecked]) == 30 / 32
    assert services.pooled_bar_rate([unchecked]) is None


def test_the_report_gives_parse_abc2midi_and_bar_rates_per_epoch(two_epoch_run):
    tied = abc_validity(abc=TIED)
    silent = abc_validity(abc=SILENT)
    # What the fixture needs: each of the first epoch's pieces fails another check.
    assert tied.parses and not tied.plays and tied.bar_accuracy < 1
    assert not silent.parses and silent.plays
    epochs = {e["epoch"]: e for e in services.run_report(run=two_epoch_run)["epochs"]}
    assert sorted(epochs) == [1, 2]
    assert epochs[1]["n"] == 3
    assert epochs[1]["parses"] == pytest.approx(2 / 3)
    assert epochs[1]["plays"] == pytest.approx(2 / 3)
    good = abc_validity(abc=GOOD)
    pooled = (good.n_bars_checked + tied.bar_accuracy * tied.n_bars_checked) / (
        good.n_bars_checked + tied.n_bars_checked
    )
    assert epochs[1]["bars"] == pytest.approx(pooled)
    assert (epochs[2]["parses"], epochs[2]["plays"], epochs[2]["bars"]) == (1.0, 1.0, 1.0)
    # The same corpus-free melody twice: idiom and copies are measured, not left empty.
    assert epochs[2]["idiom_pitch"] is not None
    assert epochs[2]["flagged"] is not None


def test_the_run_page_shows_the_per_epoch_table_and_chart(client, two_epoch_run):
    services.run_report_measure(run=two_epoch_run)  # what the report task does
    response = client.get(f"/evaluation/runs/{two_epoch_run.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Validity, idiom and feature overlap by epoch</title>" in html
    for series in ("eval-parse", "eval-abc2midi", "eval-bars", "eval-idiom"):
        assert f'class="line eval-line {series}' in html, series
    table = html[html.index('class="table table-compact eval-epochs"') :]
    table = table[: table.index("</table>")]
    for head in ("Parse", "abc2midi", "Bars", "Pitch idiom", "Flagged"):
        assert f'class="num">{head}</th>' in table, head
    rows = table.split("<tr>")[2:]
    assert len(rows) == 2
    assert '<td class="num">1</td><td class="num">3</td>' in rows[0]
    assert '<td class="num">67%</td><td class="num">67%</td>' in rows[0]
    assert '<td class="num">100%</td><td class="num">100%</td><td class="num">100%</td>' in rows[1]


def test_the_targets_panel_says_which_targets_the_pieces_meet(client, two_epoch_run, tiny_corpus):
    # Pieces of the last checkpoint that are corpus tunes verbatim: valid and idiomatic, but
    # every one of them a copy.
    last = two_epoch_run.last_checkpoint
    tunes = list(tiny_corpus.tunes.order_by("pk")[:4])
    for tune in tunes:
        measured_piece(two_epoch_run, text=tune.text, checkpoint=last, epoch_sample=False)
    report = services.run_report(run=two_epoch_run)
    rows = {r["key"]: r for r in report["quality"]["rows"]}
    assert report["quality"]["n"] == 4
    expected_parse = sum(abc_validity(abc=t.text).parses for t in tunes) / 4
    assert rows["parse"]["value"] == pytest.approx(expected_parse)
    assert rows["parse"]["met"] == (expected_parse >= 0.98)
    assert rows["idiom"]["value"] == 1.0 and rows["idiom"]["met"] is True
    assert rows["copies"]["value"] == 1.0
    assert rows["copies"]["target"] == report["human"]["flagged_fraction"] < 1
    assert rows["copies"]["met"] is False
    html = client.get(f"/evaluation/runs/{two_epoch_run.pk}/").content.decode()
    panel = html[html.index('id="targets-heading"') : html.index('id="epochs-heading"')]
    assert "Parse in music21 with at least 8 notes" in panel
    assert "≥ 98%" in panel and "≥ 90%" in panel and "≥ 93%" in panel
    assert panel.count('class="eval-target-met">yes') >= 1
    assert panel.count('class="eval-target-missed">no') >= 1
