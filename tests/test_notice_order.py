"""Notice numbers in a run's summary sort by number, not by character (issue 12 item 7)."""

from rectify.services.daily.run import notice_order


def test_it_sorts_notice_numbers_numerically() -> None:
    numbers = ["〔2024〕10号", "〔2024〕9号", "〔2023〕12号", "〔2024〕100号", "〔2024〕2号"]
    assert sorted(numbers, key=notice_order) == ["〔2023〕12号", "〔2024〕2号", "〔2024〕9号", "〔2024〕10号",
                                                 "〔2024〕100号"]
