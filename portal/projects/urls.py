from django.urls import path

from . import views

app_name = "projects"
urlpatterns = [
    path("centre-api/", views.CentreClientsView.as_view(), name="centre_clients"),
    path("centre-api/<int:pk>/revoke/", views.CentreClientRevokeView.as_view(), name="centre_client_revoke"),
]
