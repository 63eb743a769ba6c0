"""Survey routes, mounted at /survey/ by musicsite.urls."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.survey_index, name="survey_index"),
    path("<int:pk>/", views.survey_consent, name="survey_consent"),
    path("<int:pk>/listen/", views.survey_listen, name="survey_listen"),
    path("<int:pk>/thanks/", views.survey_thanks, name="survey_thanks"),
    path("<int:pk>/results/", views.survey_results, name="survey_results"),
    path("<int:pk>/responses.csv", views.survey_responses_csv, name="survey_responses_csv"),
    path("audio/<str:token>/", views.survey_clip_audio, name="survey_clip_audio"),
]
