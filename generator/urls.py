from django.urls import path

from . import views

urlpatterns = [
    # gallery and pieces
    path("", views.gallery, name="gallery"),
    path("pieces/cards.json", views.piece_cards, name="piece_cards"),
    path("pieces/<int:pk>/", views.piece_detail, name="piece_detail"),
    path("pieces/<int:pk>/audio/", views.piece_audio, name="piece_audio"),
    path("pieces/<int:pk>/spectrogram.png", views.piece_spectrogram, name="piece_spectrogram"),
    path("pieces/<int:pk>/download/<str:fmt>/", views.piece_download, name="piece_download"),
    path("pieces/<int:pk>/reproduce/", views.piece_reproduce, name="piece_reproduce"),
    path("pieces/<int:pk>/more/", views.piece_more_like, name="piece_more_like"),
    # generation
    path("generate/", views.generate, name="generate"),
    path("jobs/<int:pk>/", views.job_detail, name="job_detail"),
    path("jobs/<int:pk>/status.json", views.job_status, name="job_status"),
    # training runs
    path("runs/", views.run_list, name="run_list"),
    path("runs/<int:pk>/", views.run_detail, name="run_detail"),
    path("runs/<int:pk>/status.json", views.run_status, name="run_status"),
    path("runs/<int:pk>/cancel/", views.run_cancel, name="run_cancel"),
    path("runs/<int:pk>/resume/", views.run_resume, name="run_resume"),
    # corpora and their tunes
    path("corpora/", views.corpus_list, name="corpus_list"),
    path("corpora/<int:pk>/", views.corpus_detail, name="corpus_detail"),
    path("tunes/<int:pk>/", views.tune_detail, name="tune_detail"),
    path("tunes/<int:pk>/audio/", views.tune_audio, name="tune_audio"),
    path("tunes/<int:pk>/download/<str:fmt>/", views.tune_download, name="tune_download"),
    # sign in and out
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", views.LogoutView.as_view(), name="logout"),
]
