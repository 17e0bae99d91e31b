import pytest

from saleschannel.customers.models import Customer

pytestmark = pytest.mark.django_db

VALID = {
    "email": "a@example.com",
    "channel_code": "A-1",
    "is_active": True,
    "email_allowed": False,
    "sms_allowed": False,
    "call_allowed": False,
}


def test_create_then_retrieve(api, channel):
    created = api.post(f"/api/v1/channel/{channel.pk}/customers/", VALID, format="json")
    assert created.status_code == 201, created.content
    pk = created.json()["pk"]
    assert Customer.objects.filter(pk=pk, channel=channel).exists()
    fetched = api.get(f"/api/v1/channel/{channel.pk}/customers/{pk}/")
    assert fetched.status_code == 200
    assert fetched.json() == created.json()
