from django.urls import path

from . import views

app_name = "calls"
urlpatterns = [
    path("", views.CallListView.as_view(), name="list"),
    path("manage/", views.CallManageListView.as_view(), name="manage_list"),
    path("manage/new/", views.CallEditView.as_view(), name="manage_create"),
    path("manage/<slug:reference>/", views.CallEditView.as_view(), name="manage_edit"),
    path("<slug:reference>/", views.CallDetailView.as_view(), name="detail"),
]
