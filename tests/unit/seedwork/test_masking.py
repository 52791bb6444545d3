"""A mobile in a log line or the delivery log shows its last four digits only."""
from seedwork.masking import mask_mobile


def test_only_the_last_four_digits_show():
    assert mask_mobile("+966501234567") == "•••••••••4567"
    assert mask_mobile("123") == "123" and mask_mobile(None) == ""
