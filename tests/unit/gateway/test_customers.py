"""The gateway's side of customers: CSV files read as they arrive
(services.gateway.csvfile), the request schemas, and the routes against a
hand-written fake of the customers service."""
from __future__ import annotations

import io
from dataclasses import replace
import tracemalloc
import uuid

import pytest
from marshmallow import ValidationError

from seedwork.errors import Forbidden, InvalidCommand, NotFound
from services.gateway import csvfile
from services.gateway.csvfile import Rejected, import_file, read_rows
from services.gateway.http import BadRequest, PayloadTooLarge, UnsupportedMediaType
from services.gateway.schemas import customers as customers_schemas
from services.gateway.schemas import fields as fields_schemas
from services.gateway.schemas import orders as orders_schemas
from tests.unit.gateway import fakes as gateway_fakes
from tests.unit.gateway.fakes import gateway_with, ALI, BLOCKED, STORE, json_of, request

GROUP = "7d1c8a0e-5b8e-4c1d-8f0a-2e3b4c5d6e7f"
FLAG = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"


def rows_of(text: str | bytes) -> list:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return list(read_rows(io.BytesIO(data)))


def file_errors(text: str | bytes) -> list[str]:
    """The ``file`` messages of a refused file (fails the test if it was read)."""
    with pytest.raises(BadRequest) as info:
        rows_of(text)
    assert info.value.code == "invalid_file"
    assert list(info.value.errors) == ["file"]
    return info.value.errors["file"]


class GeneratedFile(io.RawIOBase):
    """A raw stream whose bytes a generator makes while it is read, the way
    a request body arrives: the test never holds the whole file."""

    def __init__(self, chunks):
        self._chunks = iter(chunks)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = chunk
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def shop_file(rows: int):
    """A header, then one customer per row whose notes span two lines."""
    yield "الاسم,الجوال,City,notes\r\n".encode()
    for i in range(rows):
        yield f'"Customer {i}",05{i:08d},Riyadh,"first line, with a comma\nsecond line"\r\n'.encode()


# --- the header: English, Arabic, a BOM -------------------------------------------------


def test_a_plain_file_gives_each_row_with_its_line():
    assert rows_of("name,mobile\nAli,0501234567\nSara,0557654321\n") == [
        (2, {"name": "Ali", "mobile": "0501234567"}),
        (3, {"name": "Sara", "mobile": "0557654321"}),
    ]


def test_english_headers_ignore_case_and_spaces():
    rows = rows_of(" Name , MOBILE,E mail,city ,Gender,BirthDay,Notes\n"
                   "Ali,050,a@example.com,Jeddah,male,1990-01-31,hi\n")
    assert rows == [(2, {"name": "Ali", "mobile": "050", "email": "a@example.com", "city": "Jeddah",
                         "gender": "male", "birthday": "1990-01-31", "notes": "hi"})]


@pytest.mark.parametrize("header, column", [
    ("الاسم", "name"), ("الجوال", "mobile"), ("رقم الجوال", "mobile"), ("الهاتف", "mobile"),
    ("البريد الإلكتروني", "email"), ("البريد الالكتروني", "email"), ("البريد", "email"),
    ("المدينة", "city"), ("الجنس", "gender"), ("تاريخ الميلاد", "birthday"), ("ملاحظات", "notes"),
    ("  رقم  الجوال ", "mobile"),
])
def test_arabic_headers_name_the_same_columns(header, column):
    others = [name for name in ("name", "mobile") if name != column]
    assert csvfile.columns_of([header, *others])[0] == column


def test_an_arabic_file_reads_like_an_english_one():
    assert rows_of("الاسم,رقم الجوال,المدينة\nعلي,٠٥٠١٢٣٤٥٦٧,الرياض\n") == [
        (2, {"name": "علي", "mobile": "٠٥٠١٢٣٤٥٦٧", "city": "الرياض"})]


def test_a_byte_order_mark_is_not_part_of_the_first_header():
    # Excel's "CSV UTF-8" starts with one.
    assert rows_of("\ufeffname,mobile\nAli,050\n") == [(2, {"name": "Ali", "mobile": "050"})]


def test_a_header_without_name_or_mobile_is_refused_naming_what_is_missing():
    assert file_errors("name,email\nAli,a@example.com\n") == [
        "the header must name the columns name and mobile; missing: mobile"]
    assert "missing: name, mobile" in file_errors("city\nRiyadh\n")[-1]


def test_unknown_columns_are_refused_by_name():
    errors = file_errors("name,mobile,vip,Loyalty points\nAli,050,yes,10\n")
    assert errors[0].startswith("unknown columns: vip, Loyalty points; the columns are name, mobile")


def test_a_semicolon_separated_file_gets_a_hint():
    errors = file_errors("name;mobile\nAli;050\n")
    assert "separate the columns with commas" in errors[0]


def test_a_column_named_twice_or_not_at_all_is_refused():
    assert file_errors("mobile,name,الجوال\n") == ["'mobile' and 'الجوال' are both the mobile column"]
    assert file_errors("name,,mobile\n") == ["column 2 of the header has no name"]


@pytest.mark.parametrize("text", ["", "\n\n\r\n", "\ufeff", " , \n"])
def test_an_empty_file_is_refused(text):
    assert file_errors(text)[0].startswith("the file is empty: it needs a header row")


def test_a_file_with_only_a_header_has_no_rows():
    assert rows_of("name,mobile\r\n") == []


# --- rows: lines, quotes, blanks, refusals ------------------------------------------------


def test_a_quoted_cell_may_span_lines_and_the_row_keeps_its_first_line():
    text = ('name,mobile,notes\n'
            'Ali,050,"line one\nline two\r\nline three"\n'
            'Sara,055,"she said ""hi"", twice"\n'
            '"Omar\n",056,\n')
    assert rows_of(text) == [
        (2, {"name": "Ali", "mobile": "050", "notes": "line one\nline two\r\nline three"}),
        (5, {"name": "Sara", "mobile": "055", "notes": 'she said "hi", twice'}),
        (6, {"name": "Omar\n", "mobile": "056", "notes": ""}),
    ]


def test_empty_lines_and_blank_rows_are_skipped_but_counted():
    text = "\nname,mobile\n\nAli,050\n , \n\r\nSara,055"
    assert rows_of(text) == [(4, {"name": "Ali", "mobile": "050"}), (7, {"name": "Sara", "mobile": "055"})]


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"])
def test_every_line_ending_counts_one_line(ending):
    text = ending.join(["name,mobile", "Ali,050", '"Sa', 'ra",055', "Omar,056"])
    assert [line for line, _ in rows_of(text)] == [2, 3, 5]


def test_a_row_with_the_wrong_number_of_cells_is_rejected_and_reading_goes_on():
    text = "name,mobile,city\nAli,050\nSara,055,Jeddah,extra\nOmar,056,Riyadh\n"
    assert rows_of(text) == [
        Rejected(2, "2 cells where the header has 3 columns"),
        Rejected(3, "4 cells where the header has 3 columns"),
        (4, {"name": "Omar", "mobile": "056", "city": "Riyadh"}),
    ]


def test_a_cell_over_10000_characters_rejects_its_row_naming_the_column():
    text = f"name,mobile,notes\nAli,050,\"{'n' * 10_001}\"\nSara,055,\"{'n' * 10_000}\"\n"
    rows = rows_of(text)
    assert rows[0] == Rejected(2, "notes: longer than 10,000 characters", "notes")
    assert rows[1][0] == 3 and len(rows[1][1]["notes"]) == 10_000


def test_a_nul_character_rejects_its_row():
    assert rows_of("name,mobile\nA\x00li,050\n") == [Rejected(2, "name: must not contain NUL characters", "name")]


def test_a_row_too_long_to_read_is_skipped_to_its_end_and_reading_goes_on():
    huge = "x" * 200_000
    text = (f"name,mobile\n"
            f"Ali,{huge}\n"                       # one line over the limit
            f"Sara,\"{'a,b' * 20_000}\n{huge}\n\"\n"  # a quoted cell that grows past it over lines
            f"Omar,056\n"
            f"\"{huge}\n\",tail\"\n"              # over the limit at once, inside quotes
            f"Huda,057\n")
    assert rows_of(text) == [
        Rejected(2, "the row is longer than 131,000 characters"),
        Rejected(3, "the row is longer than 131,000 characters"),
        (6, {"name": "Omar", "mobile": "056"}),
        Rejected(7, "the row is longer than 131,000 characters"),
        (9, {"name": "Huda", "mobile": "057"}),
    ]


def test_a_file_that_is_not_utf8_is_refused():
    errors = file_errors("name,mobile\nعلي,050\n".encode("cp1256"))
    assert errors == ['not UTF-8 (at or after line 1): save the file as "CSV UTF-8"']


def test_a_bad_byte_late_in_the_file_says_from_where():
    text = b"name,mobile\n" + b"Ali,050\n" * 3000 + b"Sara,\xff\n"
    (message,) = file_errors(text)
    assert message.startswith("not UTF-8 (at or after line ")


def test_a_stream_with_only_read_works_and_is_left_open():
    class Body:  # a WSGI input: read(n) and nothing else
        def __init__(self, data):
            self.data, self.closed = io.BytesIO(data), False

        def read(self, n=-1):
            return self.data.read(n)

    body = Body(b"name,mobile\nAli,050\n")
    assert list(read_rows(body)) == [(2, {"name": "Ali", "mobile": "050"})]
    raw = io.BytesIO(b"name,mobile\nAli,050\n")
    list(read_rows(raw))
    assert not raw.closed


# --- a large file is streamed, never held -------------------------------------------------


def test_100000_rows_are_read_in_bounded_memory():
    tracemalloc.start()
    try:
        count, last = 0, None
        for row in read_rows(GeneratedFile(shop_file(100_000))):
            count, last = count + 1, row
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 100_000
    assert last == (200_000, {"name": "Customer 99999", "mobile": "0500099999", "city": "Riyadh",
                              "notes": "first line, with a comma\nsecond line"})
    # The file is 7.5 MB of UTF-8; reading it holds a row and a few buffers (about 150 kB).
    assert peak < 2_000_000, f"peak {peak:,} bytes"


def test_an_import_spools_the_file_and_sends_batches_of_1000_in_bounded_memory():
    batches = []

    def send(rows):
        batches.append((len(rows), rows[0][0], rows[-1][0]))
        return {"created": len(rows), "updated": 0, "unchanged": 0, "rejected": []}

    tracemalloc.start()
    try:
        result = import_file(GeneratedFile(shop_file(30_000)), send)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result == {"created": 30_000, "updated": 0, "unchanged": 0, "rejected": [], "rejected_count": 0}
    assert len(batches) == 30 and {size for size, _, _ in batches} == {1000}
    assert batches[0][1:] == (2, 2_000) and batches[-1][2] == 60_000
    # A 2.2 MB file and a larger spool: the spool stays in memory up to 1 MB, then moves to disk.
    assert peak < 2_500_000, f"peak {peak:,} bytes"


# --- the import: batches, sums, rejected rows -----------------------------------------------


def service_rejecting(*bad_lines, field="mobile"):
    """A fake import_rows: rows on ``bad_lines`` rejected, the others created."""
    sent = []

    def send(rows):
        sent.append(rows)
        rejected = [{"line": line, "field": field, "reason": f"{field}: not a mobile number"}
                    for line, _ in rows if line in bad_lines]
        return {"created": len(rows) - len(rejected), "updated": 0, "unchanged": 0, "rejected": rejected}
    return send, sent


def test_the_results_of_the_batches_are_added_up_with_rejected_rows_in_line_order():
    lines = ["name,mobile"] + [f"c{i},05{i:08d}" for i in range(2500)]
    lines[10] = "short"            # line 11: rejected here
    lines[1500] = "a,b,c"          # line 1501: rejected here
    send, sent = service_rejecting(5, 1200, 2400)
    result = import_file(io.BytesIO("\n".join(lines).encode()), send)
    assert [len(rows) for rows in sent] == [1000, 1000, 498]
    assert result["created"] == 2495 and result["rejected_count"] == 5
    assert [(r["line"], r["field"]) for r in result["rejected"]] == [
        (5, "mobile"), (11, None), (1200, "mobile"), (1501, None), (2400, "mobile")]
    assert result["rejected"][1] == {"line": 11, "reason": "1 cells where the header has 2 columns", "field": None}


def test_rows_are_sent_as_line_and_cells():
    send, sent = service_rejecting()
    import_file(io.BytesIO("name,mobile,city\nAli,050,\n".encode()), send)
    assert sent == [[[2, {"name": "Ali", "mobile": "050", "city": ""}]]]


def test_long_cells_make_smaller_batches():
    notes = "n" * 9_000
    text = "name,mobile,notes\n" + "".join(f"c{i},05{i:08d},{notes}\n" for i in range(300))
    send, sent = service_rejecting()
    import_file(io.BytesIO(text.encode()), send)
    assert all(sum(len(c) for _, cells in rows for c in cells.values()) < 1_010_000 for rows in sent)
    assert len(sent) == 3 and sum(map(len, sent)) == 300


def test_only_the_first_1000_rejected_rows_are_listed_but_all_are_counted():
    text = "name,mobile\n" + "only-one-cell\n" * 2500 + "Ali,050\n"
    send, sent = service_rejecting(2502)
    result = import_file(io.BytesIO(text.encode()), send)
    assert result["rejected_count"] == 2501 and result["created"] == 0
    assert len(result["rejected"]) == 1000
    assert [r["line"] for r in result["rejected"]] == list(range(2, 1002))
    assert sent == [[[2502, {"name": "Ali", "mobile": "050"}]]]


def test_a_file_refused_late_imports_nothing():
    # The whole file is read before the first batch is sent.
    text = b"name,mobile\n" + b"Ali,050\n" * 5000 + b"\xff\n"
    send, sent = service_rejecting()
    with pytest.raises(BadRequest):
        import_file(io.BytesIO(text), send)
    assert sent == []


def test_a_file_of_rejected_rows_only_calls_nobody():
    send, sent = service_rejecting()
    result = import_file(io.BytesIO(b"name,mobile\nx\n"), send)
    assert sent == [] and result["rejected_count"] == 1 and result["created"] == 0


# --- schemas ----------------------------------------------------------------------------


def refused(schema, data) -> dict:
    with pytest.raises(ValidationError) as info:
        schema().load(data)
    return info.value.messages


CARD = {"name": "Ali", "mobile": "0501234567"}


def test_a_minimal_card_is_accepted_as_sent():
    assert customers_schemas.CustomerCreate().load(CARD) == CARD


def test_a_full_card_is_accepted_and_optional_fields_may_be_null():
    full = {**CARD, "email": "ali@example.com", "city": "Riyadh", "gender": "male", "birthday": "1990-01-31",
            "notes": "prefers WhatsApp"}
    assert customers_schemas.CustomerCreate().load(full) == full
    nulls = {**CARD, "email": None, "city": None, "gender": None, "birthday": None, "notes": None}
    assert customers_schemas.CustomerCreate().load(nulls) == nulls


@pytest.mark.parametrize("field", ["id", "store_id", "blocked", "version", "groups", "total_spent"])
def test_a_card_may_not_set_fields_the_server_owns(field):
    assert refused(customers_schemas.CustomerCreate, {**CARD, field: "x"}) == {field: ["Unknown field."]}


@pytest.mark.parametrize("missing", ["name", "mobile"])
def test_name_and_mobile_are_required(missing):
    assert list(refused(customers_schemas.CustomerCreate, {k: v for k, v in CARD.items() if k != missing})) == [missing]


@pytest.mark.parametrize("field, value", [("name", 5), ("mobile", 966501234567), ("email", ["a"]),
                                          ("gender", "m"), ("gender", "Male"), ("notes", {"a": 1}),
                                          ("name", "x" * 201), ("notes", "x" * 2001), ("city", "")])
def test_wrong_types_lengths_and_values_are_refused_naming_the_field(field, value):
    assert list(refused(customers_schemas.CustomerCreate, {**CARD, field: value})) == [field]


def test_an_update_needs_a_field_and_cannot_clear_name_or_mobile():
    assert refused(customers_schemas.CustomerUpdate, {}) == {
        "_schema": ["send at least one field; null clears an optional one"]}
    assert customers_schemas.CustomerUpdate().load({"email": None}) == {"email": None}
    assert list(refused(customers_schemas.CustomerUpdate, {"name": None})) == ["name"]
    assert list(refused(customers_schemas.CustomerUpdate, {"mobile": None})) == ["mobile"]


def test_the_list_query_types_its_parameters():
    query = customers_schemas.CustomerQuery().load({"blocked": "true", "flagged": "false", "orders_min": "3",
                                          "group": GROUP, "spent_min": "150.50", "limit": "10"})
    assert query == {"blocked": True, "flagged": False, "orders_min": 3, "group": GROUP, "spent_min": "150.50",
                     "limit": 10, "sort": "-registered"}


@pytest.mark.parametrize("name, value", [("blocked", "yes"), ("blocked", "1"), ("orders_min", "-1"),
                                         ("orders_max", "many"), ("sort", "created"), ("sort", "--name"),
                                         ("limit", "101"), ("limit", "0"), ("group", "not-a-uuid"),
                                         ("group", GROUP.upper()), ("status", "open")])
def test_a_bad_list_parameter_is_named(name, value):
    assert list(refused(customers_schemas.CustomerQuery, {name: value})) == [name]


def test_a_json_filter_wants_json_types():
    assert customers_schemas.CustomerFilter().load({"blocked": True, "orders_min": 2, "spent_min": 150.5}) == {
        "blocked": True, "orders_min": 2, "spent_min": 150.5}
    for name, value in [("blocked", "true"), ("orders_min", "2"), ("orders_min", True), ("spent_min", True),
                        ("sort", "-name"), ("limit", 5)]:
        assert list(refused(customers_schemas.CustomerFilter, {name: value})) == [name]


def test_group_members_take_ids_or_a_filter():
    assert customers_schemas.GroupMembers().load({"customer_ids": [ALI]}) == {"customer_ids": [ALI]}
    assert customers_schemas.GroupMembers().load({"filter": {"city": "Riyadh"}}) == {"filter": {"city": "Riyadh"}}
    assert customers_schemas.GroupMembers().load({"filter": {}}) == {"filter": {}}


@pytest.mark.parametrize("body", [{}, {"customer_ids": [ALI], "filter": {"city": "Riyadh"}}])
def test_group_members_with_both_or_neither_name_both_fields(body):
    assert set(refused(customers_schemas.GroupMembers, body)) == {"customer_ids", "filter"}


def test_group_member_ids_are_uuids_and_at_most_10000():
    assert refused(customers_schemas.GroupMembers, {"customer_ids": [ALI, "cus_1"]}) == {
        "customer_ids": {1: ["an id as the API returns it: a lowercase UUID"]}}
    assert list(refused(customers_schemas.GroupMembers, {"customer_ids": []})) == ["customer_ids"]
    many = [str(uuid.UUID(int=i)) for i in range(10_001)]
    assert list(refused(customers_schemas.GroupMembers, {"customer_ids": many})) == ["customer_ids"]
    assert len(customers_schemas.GroupMembers().load({"customer_ids": many[:10_000]})["customer_ids"]) == 10_000
    assert refused(customers_schemas.GroupMembers, {"filter": {"colour": "red"}}) == {
        "filter": {"colour": ["Unknown field."]}}


ORDER = {"customer_id": ALI, "status": "delivered", "created_at": "2026-11-20T10:00:00+03:00",
         "updated_at": "2026-11-23T10:00:00+03:00", "total": "250.00", "currency": "SAR",
         "payment_method": "cod", "items": [{"name": "Kettle", "quantity": 1, "price": "250.00", "sku": "K-1"}]}


def test_an_order_is_accepted_as_sent():
    assert orders_schemas.OrderPut().load(ORDER) == ORDER
    assert orders_schemas.OrderPut().load({**ORDER, "total": 250, "tracking_url": None, "rated": True})["total"] == 250


@pytest.mark.parametrize("field, value", [("status", "shipped"), ("payment_method", "cash"), ("total", True),
                                          ("total", None), ("currency", "SR"), ("rated", "yes"),
                                          ("items", {"name": "x"}), ("customer_id", "cus_1"), ("id", "o-1")])
def test_a_bad_order_field_is_named(field, value):
    assert list(refused(orders_schemas.OrderPut, {**ORDER, field: value})) == [field]


@pytest.mark.parametrize("item", [{"name": "x", "quantity": "1"}, {"name": "x", "quantity": 0},
                                  {"name": "x", "quantity": True}, {"quantity": 1}, {"name": "x", "quantity": 1,
                                                                                     "colour": "red"}])
def test_a_bad_item_is_named_with_its_index(item):
    assert list(refused(orders_schemas.OrderPut, {**ORDER, "items": [item]})) == ["items"]
    assert list(refused(orders_schemas.OrderPut, {**ORDER, "items": [item]})["items"]) == [0]


def test_block_message_settings_and_flag_bodies_are_typed():
    assert customers_schemas.BlockRequest().load({"reason": "other", "details": "rude"}) == {"reason": "other",
                                                                                  "details": "rude"}
    assert list(refused(customers_schemas.BlockRequest, {"reason": "spam"})) == ["reason"]
    assert list(refused(customers_schemas.BlockRequest, {})) == ["reason"]
    assert list(refused(customers_schemas.CustomerMessageCreate, {"channel": "whatsapp", "body": "hi"})) == ["channel"]
    assert list(refused(customers_schemas.CustomerMessageCreate, {"channel": "sms"})) == ["body"]
    assert refused(customers_schemas.CustomerSettingsUpdate, {}) == {"_schema": ["send at least one setting"]}
    refusal = refused(customers_schemas.CustomerSettingsUpdate, {"no_cod_for_flagged": "true"})
    assert list(refusal) == ["no_cod_for_flagged"]
    assert list(refused(customers_schemas.CustomerSettingsUpdate, {"rating_channel": "fax"})) == ["rating_channel"]
    assert customers_schemas.FlagQuery().load({}) == {"status": "active", "limit": 25}
    assert list(refused(customers_schemas.FlagQuery, {"status": "open"})) == ["status"]
    assert refused(fields_schemas.NoFields, {"reason": "x"}) == {"reason": ["Unknown field."]}


# --- the routes, against fakes of what lies behind the gateway ---------------------------------


class FakeIdentity(gateway_fakes.FakeIdentity):
    def open_customer_session(self, caller, customer_id, idempotency):
        return {"session": {"customer_id": customer_id, "store_id": caller.store_id, "token": "tok_x.y",
                            "expires_at": "2026-11-24T10:00:00Z"}, "created": True}


def card(customer_id=ALI, **changes):
    return {"id": customer_id, "name": "Ali", "mobile": "+966501234567", "version": 3, **changes}


class FakeCustomers:
    """The customers service's RPC contract (docs/customers-rpc.md), in memory."""

    def __init__(self):
        self.calls = []
        self.blocked = {ALI: False, BLOCKED: True}

    def __getattr__(self, method):
        if method.startswith("_"):
            raise AttributeError(method)

        def call(*args):
            self.calls.append((method, *args))
            return getattr(self, f"_{method}", lambda *a: {})(*args)
        return call

    def _standing(self, store_id, customer_id):
        if customer_id not in self.blocked:
            raise NotFound("customer_not_found", f"no customer {customer_id}")
        return {"customer_id": customer_id, "blocked": self.blocked[customer_id], "block_reason": None,
                "flagged": False}

    def _create(self, caller, fields, idempotency):
        return {"status": 201, "customer": card(**fields), "replayed": idempotency is not None}

    def _get(self, caller, customer_id):
        return card(customer_id)

    def _update(self, caller, customer_id, fields, expected_version, idempotency):
        return {"status": 200, "customer": card(customer_id, version=4)}

    def _import_rows(self, caller, rows):
        return {"created": len(rows), "updated": 0, "unchanged": 0, "rejected": []}

    def _put_order(self, caller, order_id, fields):
        return {"status": 200, "order": {"id": order_id, "version": 2}, "applied": False}

    def _delete_group(self, caller, group_id):
        return {"status": 204}

    def _change_members(self, caller, group_id, op, selection):
        return {"changed": 2, "group": {"id": group_id, "name": "VIP", "members_count": 2}}

    def _request_rating(self, caller, customer_id, idempotency):
        return {"status": 202, "request": {"id": "r1", "customer_id": customer_id}}


class FakeTickets:
    def __init__(self):
        self.opened = []

    def open(self, caller, body, idempotency, standing=None):
        self.opened.append((body, standing))
        return {"status": 201, "ticket": {"id": "t1", "version": 1}}


@pytest.fixture
def gateway():
    return gateway_with(identity=FakeIdentity(), customers=FakeCustomers(), tickets=FakeTickets())


def test_creating_a_customer_answers_201_with_location_and_etag(gateway):
    response = gateway.create_customer(request("POST", "/v1/customers", CARD))
    assert response.status_code == 201
    assert response.headers["Location"] == f"/v1/customers/{ALI}"
    assert response.headers["ETag"] == '"3"'
    assert gateway.customers.calls[0] == ("create", FakeIdentity.PRINCIPALS["owner"], CARD, None)


def test_patch_sends_if_match_as_the_expected_version(gateway):
    response = gateway.update_customer(request("PATCH", f"/v1/customers/{ALI}", {"city": "Riyadh"},
                                               headers={"If-Match": '"3"'}), ALI)
    assert response.status_code == 200 and response.headers["ETag"] == '"4"'
    assert gateway.customers.calls[0][1:] == (FakeIdentity.PRINCIPALS["owner"], ALI, {"city": "Riyadh"},
                                              3, None)
    with pytest.raises(BadRequest) as info:
        gateway.update_customer(request("PATCH", f"/v1/customers/{ALI}", {"city": "Riyadh"},
                                        headers={"If-Match": "abc"}), ALI)
    assert info.value.errors == {"If-Match": ['expected a version like "7"']}
    assert "customer response" in info.value.detail


@pytest.mark.parametrize("route, args, code", [
    ("get_customer", ("cus_42",), "customer_not_found"),
    ("get_customer", (ALI.upper(),), "customer_not_found"),
    ("customer_orders", ("42",), "customer_not_found"),
    ("get_group", ("vip",), "group_not_found"),
    ("delete_group", ("vip",), "group_not_found"),
    ("get_order", ("order 1",), "order_not_found"),
    ("get_order", ("o" * 101,), "order_not_found"),
])
def test_ids_that_cannot_name_anything_are_404s(gateway, route, args, code):
    with pytest.raises(NotFound) as info:
        getattr(gateway, route)(request("GET", "/v1/x"), *args)
    assert info.value.code == code
    assert gateway.customers.calls == []


def test_clearing_a_flag_with_a_bad_id_is_a_404(gateway):
    with pytest.raises(NotFound) as info:
        gateway.clear_flag(request("POST", "/v1/platform/flags/x/clear", {}, token="platform"), "x")
    assert info.value.code == "flag_not_found"


@pytest.mark.parametrize("route, token", [("import_customers", "agent"), ("list_flags", "owner"),
                                          ("update_customer_settings", "agent"), ("create_customer", "ali")])
def test_each_route_refuses_the_roles_it_does_not_serve(gateway, route, token):
    with pytest.raises(Forbidden):
        getattr(gateway, route)(request("POST", "/v1/x", {}, token=token))


def test_a_customer_sees_only_their_own_payment_options(gateway):
    gateway.payment_options(request("GET", "/", token="ali"), ALI)
    with pytest.raises(NotFound) as info:
        gateway.payment_options(request("GET", "/", token="ali"), BLOCKED)
    assert info.value.code == "customer_not_found"
    assert [c[0] for c in gateway.customers.calls] == ["payment_options"]


def test_an_order_put_says_whether_it_applied(gateway):
    response = gateway.put_order(request("PUT", "/v1/orders/SO-1001", ORDER, token="admin"), "SO-1001")
    assert response.status_code == 200
    assert response.headers["X-Order-Applied"] == "false"
    assert "Location" not in response.headers
    assert json_of(response) == {"id": "SO-1001", "version": 2}


def test_deleting_a_group_answers_204_without_a_body(gateway):
    response = gateway.delete_group(request("DELETE", "/"), GROUP)
    assert response.status_code == 204 and response.get_data() == b""


def test_adding_and_removing_members_name_the_operation(gateway):
    gateway.add_members(request("POST", "/", {"customer_ids": [ALI]}), GROUP)
    gateway.remove_members(request("DELETE", "/", {"filter": {"blocked": True}}), GROUP)
    assert [c[3:] for c in gateway.customers.calls] == [("add", {"customer_ids": [ALI]}),
                                                        ("remove", {"filter": {"blocked": True}})]
    with pytest.raises(BadRequest) as info:
        gateway.add_members(request("POST", "/", {"customer_ids": [ALI], "filter": {}}), GROUP)
    assert set(info.value.errors) == {"customer_ids", "filter"}


def test_a_rating_request_is_accepted_with_202(gateway):
    response = gateway.request_rating(request("POST", "/", {}), ALI)
    assert response.status_code == 202 and json_of(response) == {"id": "r1", "customer_id": ALI}


# --- sessions and tickets ask whether the customer exists and is blocked ---------------------------


def test_a_session_is_only_for_a_customer_of_the_store(gateway):
    assert gateway.open_session(request("POST", "/", {}), ALI).status_code == 201
    assert gateway.customers.calls == [("standing", STORE, ALI)]
    with pytest.raises(NotFound):
        gateway.open_session(request("POST", "/", {}), "c5e3d2b1-0000-4000-8000-000000000000")
    with pytest.raises(NotFound) as info:
        gateway.open_session(request("POST", "/", {}), "cus_42")
    assert info.value.code == "customer_not_found"


TICKET = {"subject": "Where is my order?", "body": "It is late."}


def test_a_shoppers_ticket_goes_with_their_standing_and_the_tickets_service_decides(gateway):
    # The tickets service refuses a blocked shopper's ticket (services/tickets/domain/policy.py).
    gateway.create_ticket(request("POST", "/v1/tickets", TICKET, token="blocked"))
    gateway.create_ticket(request("POST", "/v1/tickets", TICKET, token="ali"))
    assert [(body, standing["blocked"]) for body, standing in gateway.tickets.opened] == [(TICKET, True),
                                                                                         (TICKET, False)]


def test_staff_open_tickets_for_known_customers_only(gateway):
    gateway.create_ticket(request("POST", "/v1/tickets", {**TICKET, "customer_id": BLOCKED}))
    assert gateway.tickets.opened[0][0] == {**TICKET, "customer_id": BLOCKED}
    assert gateway.tickets.opened[0][1]["customer_id"] == BLOCKED  # staff still open tickets for a blocked one
    with pytest.raises(InvalidCommand) as info:
        gateway.create_ticket(request("POST", "/v1/tickets", {**TICKET, "customer_id": "cus_42"}))
    assert info.value.errors == {"customer_id": ["no such customer in this store"]}
    gateway.create_ticket(request("POST", "/v1/tickets", TICKET))  # no customer named: nothing to check
    assert gateway.tickets.opened[-1] == (TICKET, None)
    assert [c for c in gateway.customers.calls if c[0] == "standing"] == [
        ("standing", STORE, BLOCKED), ("standing", STORE, "cus_42")]


# --- the import route ----------------------------------------------------------------------


def csv_request(data: bytes, content_type="text/csv", token="admin"):
    return request("POST", "/v1/customers/import", token=token, data=data, content_type=content_type)


def test_the_import_route_reads_the_body_and_answers_the_totals(gateway):
    data = ("name,mobile\n" + "".join(f"c{i},05{i:08d}\n" for i in range(2_001)) + "bad\n").encode()
    response = gateway.import_customers(csv_request(data))
    assert response.status_code == 200
    assert json_of(response) == {"created": 2001, "updated": 0, "unchanged": 0, "rejected_count": 1,
                                 "rejected": [{"line": 2003, "field": None,
                                               "reason": "1 cells where the header has 2 columns"}]}
    assert [len(c[2]) for c in gateway.customers.calls] == [1000, 1000, 1]


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "multipart/form-data; boundary=x",
                                          "text/csv; charset=windows-1256"])
def test_the_import_takes_utf8_text_csv_only(gateway, content_type):
    with pytest.raises(UnsupportedMediaType):
        gateway.import_customers(csv_request(b"name,mobile\n", content_type))
    assert gateway.customers.calls == []


def test_the_import_takes_a_declared_utf8_charset(gateway):
    response = gateway.import_customers(csv_request(b"name,mobile\nAli,050\n", "text/csv; charset=UTF-8"))
    assert json_of(response)["created"] == 1


def test_an_import_over_the_size_limit_is_a_413_before_anything_is_read(gateway):
    gateway.config = replace(gateway.config, import_max_bytes=100)  # IMPORT_MAX_BYTES=100
    with pytest.raises(PayloadTooLarge) as info:
        gateway.import_customers(csv_request(b"name,mobile\n" + b"Ali,050\n" * 20))
    assert info.value.code == "payload_too_large"
    assert gateway.customers.calls == []
    assert gateway.import_customers(csv_request(b"name,mobile\nAli,050\n")).status_code == 200


def test_a_refused_file_is_a_400_about_the_file(gateway):
    with pytest.raises(BadRequest) as info:
        gateway.import_customers(csv_request(b"name,phone\nAli,050\n"))
    assert list(info.value.errors) == ["file"]
    assert gateway.customers.calls == []
