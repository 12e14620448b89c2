"""The lease book and the sending set: the local checks made before every transaction."""

from __future__ import annotations

from campaignd.delivery.jobs import Job
from campaignd.delivery.leases import LeaseBook
from campaignd.delivery.sending_campaigns import SendingCampaigns


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def job(delivery_id: int, campaign_id: int = 1) -> Job:
    return Job(delivery_id, campaign_id, f"p{delivery_id}@example.org", None, 1)


def test_a_lease_may_be_used_until_its_margin_then_not() -> None:
    clock = Clock()
    book = LeaseBook(lease_seconds=60, margin=20, clock=clock)
    claimed_at = book.now()
    clock.now += 5  # the claim statement took a while: the deadline counts from before it
    book.hold([job(1)], claimed_at)
    clock.now = claimed_at + 39.9
    assert book.may_send(job(1))
    clock.now = claimed_at + 40.0
    assert not book.may_send(job(1))
    assert not book.may_send(job(2))  # never held


def test_a_renewal_extends_what_was_kept_and_fences_what_was_lost() -> None:
    clock = Clock()
    book = LeaseBook(lease_seconds=60, margin=20, clock=clock)
    book.hold([job(1), job(2), job(3)], book.now())
    clock.now += 30
    asked = book.held()
    book.let_go(job(3))  # recorded while the extension was on its way
    lost = book.renewed(asked, kept={1}, since=clock.now)
    assert lost == [2]
    clock.now += 35  # past the first deadline, within the renewed one
    assert book.may_send(job(1))
    assert not book.may_send(job(2))
    assert book.in_hand(1) == 2
    book.let_go(job(2))
    book.let_go(job(2))  # twice is harmless
    assert book.in_hand(1) == 1 and len(book) == 1


def test_a_read_made_before_a_halt_cannot_bring_the_campaign_back() -> None:
    campaigns = SendingCampaigns()
    campaigns.update([1, 2], campaigns.reading())
    reading = campaigns.reading()  # a read of the database starts
    campaigns.halt(1)  # the halt is heard while the read is under way
    campaigns.update([1, 2], reading)  # the read still saw 1 sending
    assert 1 not in campaigns and 2 in campaigns
    campaigns.update([1, 2], campaigns.reading())  # a later read (resumed): back again
    assert 1 in campaigns
