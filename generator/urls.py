from django.urls import path

from .views import accounts, corpora, gallery, generation, pieces, runs

urlpatterns = [
    # gallery and pieces
    path("", gallery.gallery, name="gallery"),
    path("pieces/cards.json", gallery.piece_cards, name="piece_cards"),
    path("pieces/<int:pk>/", pieces.piece_detail, name="piece_detail"),
    path("pieces/<int:pk>/audio/", pieces.piece_audio, name="piece_audio"),
    path("pieces/<int:pk>/spectrogram.png", pieces.piece_spectrogram, name="piece_spectrogram"),
    path("pieces/<int:pk>/download/<str:fmt>/", pieces.piece_download, name="piece_download"),
    path("pieces/<int:pk>/reproduce/", generation.piece_reproduce, name="piece_reproduce"),
    path("pieces/<int:pk>/more/", generation.piece_more_like, name="piece_more_like"),
    # generation
    path("generate/", generation.generate, name="generate"),
    path("jobs/<int:pk>/", generation.job_detail, name="job_detail"),
    path("jobs/<int:pk>/status.json", generation.job_status, name="job_status"),
    # training runs
    path("runs/", runs.run_list, name="run_list"),
    path("runs/<int:pk>/", runs.run_detail, name="run_detail"),
    path("runs/<int:pk>/status.json", runs.run_status, name="run_status"),
    path("runs/<int:pk>/cancel/", runs.run_cancel, name="run_cancel"),
    path("runs/<int:pk>/resume/", runs.run_resume, name="run_resume"),
    # corpora and their tunes
    path("corpora/", corpora.corpus_list, name="corpus_list"),
    path("corpora/<int:pk>/", corpora.corpus_detail, name="corpus_detail"),
    path("tunes/<int:pk>/", corpora.tune_detail, name="tune_detail"),
    path("tunes/<int:pk>/audio/", corpora.tune_audio, name="tune_audio"),
    path("tunes/<int:pk>/download/<str:fmt>/", corpora.tune_download, name="tune_download"),
    # sign in and out
    path("accounts/login/", accounts.LoginView.as_view(), name="login"),
    path("accounts/logout/", accounts.LogoutView.as_view(), name="logout"),
]
