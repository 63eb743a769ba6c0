from django.urls import path

from . import views

urlpatterns = [
    path("", views.gallery, name="gallery"),
    path("pieces/<int:pk>/", views.piece_detail, name="piece_detail"),
    path("runs/<int:pk>/", views.run_detail, name="run_detail"),
    path("corpora/<int:pk>/", views.corpus_detail, name="corpus_detail"),
    path("tunes/<int:pk>/", views.tune_detail, name="tune_detail"),
    path("jobs/<int:pk>/", views.job_detail, name="job_detail"),
]
