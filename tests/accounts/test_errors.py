from accounts.errors import Conflict, DomainError, NotFound, RateLimited, kind_of


def test_an_error_keeps_its_code_message_and_retry_after():
    error = RateLimited("Too many requests; try again later.", retry_after=60)
    assert (error.code, error.message, error.retry_after) == ("rate_limited", "Too many requests; try again later.", 60)
    assert error.as_dict() == {"code": "rate_limited", "message": "Too many requests; try again later."}
    assert NotFound("No such purchase.").code == "not_found"
    assert Conflict("Busy.", code="charger_busy").code == "charger_busy"


def test_a_finer_error_belongs_to_its_kind():
    class AlreadyPaid(Conflict):
        pass

    assert kind_of(AlreadyPaid("This purchase is already paid.")) is Conflict
    assert kind_of(NotFound("No such purchase.")) is NotFound
    assert kind_of(DomainError("Refused.")) is DomainError
