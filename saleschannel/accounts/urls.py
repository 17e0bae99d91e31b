from saleschannel.core.urls import with_and_without_slash

from . import views

urlpatterns = [
    *with_and_without_slash("api/v1/auth/login", views.LoginApi.as_view(), "auth-login"),
    *with_and_without_slash("api/v1/active_user", views.ActiveUserApi.as_view(), "active-user"),
]
