from django.urls import path

from . import views

urlpatterns = [
    path("runs/<int:pk>/", views.run_report_page, name="evaluation_run_report"),
    path(
        "runs/<int:pk>/measure/",
        views.run_report_measure_again,
        name="evaluation_run_report_measure",
    ),
    path("runs/<int:pk>/scores.csv", views.run_scores_csv, name="evaluation_run_scores_csv"),
    path("runs/<int:pk>/scores.json", views.run_scores_json, name="evaluation_run_scores_json"),
    path("runs/<int:pk>/judge.json", views.run_judge_json, name="evaluation_run_judge"),
    path("pieces/<int:pk>/scores.json", views.piece_scores_json, name="evaluation_piece_scores"),
    path("pieces/<int:pk>/panel.json", views.piece_evaluation_panel, name="evaluation_piece_panel"),
    path("corpora/<int:pk>/", views.corpus_calibration_page, name="evaluation_corpus"),
]
