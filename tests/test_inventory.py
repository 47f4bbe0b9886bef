"""Loading inventories: CSV/XLSX, header recognition, mapping, cells with several values,
encodings, and one clear line for every inventory that cannot be used."""
from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook

from vulnpipe.ingest.assets.inventory import InventoryError, inventory_from_frame, load_inventory

FIX = Path(__file__).parent / "fixtures" / "inventory"


def _asset(inv, asset_id):
    rows = inv.assets[inv.assets["asset_id"] == asset_id]
    assert len(rows) == 1, asset_id
    return rows.iloc[0]


def _xlsx(path, sheets, merges=()):
    """A workbook: {title: rows}; merges = [(sheet, 'A1:B1'), ...]."""
    wb = Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    for title, ref in merges:
        wb[title].merge_cells(ref)
    wb.save(path)
    return path


def test_sample_style_headers_are_recognised_and_typed():
    inv = load_inventory(FIX / "basic.csv")
    assert inv.columns["ip"] == "IP Address" and inv.columns["internet_facing"] == "Internet Facing"
    vpn = _asset(inv, "SRV-001")
    assert vpn["owner"] == "Alice Martin" and vpn["team"] == "Network"
    assert vpn["criticality"] == "critical" and bool(vpn["internet_facing"]) is True
    assert vpn["macs"] == ["00:50:56:aa:bb:01"] and vpn["source_row"] == 2
    assert str(inv.assets["internet_facing"].dtype) == "boolean"


def test_cell_with_several_ips_separated_by_semicolon_and_newline():
    inv = load_inventory(FIX / "basic.csv")
    assert _asset(inv, "SRV-002")["ips"] == ["10.1.0.11", "10.1.0.12", "10.1.0.13"]


def test_ipv6_is_stored_in_canonical_form():
    inv = load_inventory(FIX / "basic.csv")
    assert _asset(inv, "SRV-004")["ips"] == ["2001:db8::10"]


def test_cidr_in_ip_column_makes_a_network_row():
    inv = load_inventory(FIX / "basic.csv")
    assert _asset(inv, "NET-010")["cidrs"] == ["10.20.0.0/16"]
    assert set(inv.lookups["cidr"]["cidr"]) == {"10.20.0.0/16", "10.20.30.0/24"}


def test_tier_1_means_critical():
    assert _asset(load_inventory(FIX / "basic.csv"), "SRV-004")["criticality"] == "critical"


def test_duplicate_ip_across_assets_is_a_data_quality_issue_not_an_error():
    inv = load_inventory(FIX / "basic.csv")
    dups = [i for i in inv.issues if i.kind == "duplicate_ip"]
    assert len(dups) == 1
    assert "10.1.0.50" in dups[0].detail and "SRV-005" in dups[0].detail
    assert dups[0].row == 9 and dups[0].asset_id == "SRV-006"


def test_semicolon_delimited_csv_with_bom_and_commas_inside_cells():
    inv = load_inventory(FIX / "semicolon_bom.csv")
    assert inv.columns["asset_id"] == "Asset ID"          # the BOM is not part of the header
    alpha = _asset(inv, "A-1")
    assert alpha["ips"] == ["10.5.0.1", "10.5.0.2"] and alpha["owner"] == "Zoé Noël"


def test_cp1252_csv_is_read_with_accents_and_a_note():
    inv = load_inventory(FIX / "cp1252.csv")
    cafe = _asset(inv, "B-1")
    assert cafe["owner"] == "François Léger" and cafe["business_unit"] == "Opérations – Sud"
    assert cafe["name"] == "café"
    assert [i.kind for i in inv.issues] == ["encoding"]
    assert "Windows-1252" in inv.issues[0].detail


def test_snake_case_tab_separated_headers_and_exposure_words():
    inv = load_inventory(FIX / "snake_case.tsv")
    gw = _asset(inv, "T-1")
    assert gw["owner"] == "Gina" and gw["team"] == "Edge" and gw["business_unit"] == "IT"
    assert gw["criticality"] == "high" and bool(gw["internet_facing"]) is True
    assert gw["os"] == "Linux" and gw["location"] == "Nice" and gw["environment"] == "prod"


def test_explicit_mapping_names_columns_auto_recognition_misses():
    inv = load_inventory(FIX / "custom_headers.csv",
                         columns={"asset_id": "machine", "ip": "ADDR", "owner": "Responsible",
                                  "criticality": "Importance"})
    m = _asset(inv, "M-1")
    assert m["ips"] == ["10.7.0.1"] and m["owner"] == "Hank" and m["criticality"] == "critical"


def test_explicit_mapping_overrides_recognised_header(tmp_path):
    path = tmp_path / "inv.csv"
    path.write_text("Asset ID,IP Address,Mgmt IP\nX-1,10.0.0.1,10.99.0.1\n")
    inv = load_inventory(path, columns={"ip": "Mgmt IP"})
    assert _asset(inv, "X-1")["ips"] == ["10.99.0.1"]


def test_rows_without_asset_id_get_stable_ids_and_an_issue(tmp_path):
    path = tmp_path / "inv.csv"
    path.write_text("Asset ID,IP Address\n,10.0.0.1\nK-2,10.0.0.2\n")
    inv = load_inventory(path)
    assert list(inv.assets["asset_id"]) == ["10.0.0.1", "K-2"]
    assert [i.kind for i in inv.issues] == ["missing_asset_id"]


def test_no_asset_id_column_names_assets_by_their_identity(tmp_path):
    path = tmp_path / "inv.csv"
    path.write_text("hostname,owner\nalpha,Ann\n\nbeta,Ben\n")
    inv = load_inventory(path)
    assert list(inv.assets["asset_id"]) == ["alpha", "beta"]     # blank row skipped
    assert inv.issues == []


def test_row_without_identity_is_a_data_quality_issue(tmp_path):
    path = tmp_path / "inv.csv"
    path.write_text("Asset ID,IP Address,Owner\nN-1,,Nina\nN-2,10.0.0.2,Ned\n")
    inv = load_inventory(path)
    assert [(i.kind, i.row, i.asset_id) for i in inv.issues] == [("no_identity", 2, "N-1")]


def test_unparseable_ip_and_mac_are_reported_and_skipped(tmp_path):
    path = tmp_path / "inv.csv"
    path.write_text("Asset ID,IP Address,MAC\nQ-1,10.0.0.300;10.0.0.3,zz:zz\n")
    inv = load_inventory(path)
    assert _asset(inv, "Q-1")["ips"] == ["10.0.0.3"]
    assert sorted(i.kind for i in inv.issues) == ["bad_ip", "bad_mac"]


def test_a_trailing_dot_is_dns_absolute_form_for_addresses_as_for_names(tmp_path):
    """`10.0.0.5.` is the address 10.0.0.5 in an IP or a name cell (not a bad value, not an
    FQDN "10.0.0.5"), as `host.example.com.` is host.example.com; a malformed address with a
    dot is still reported and skipped."""
    path = tmp_path / "inv.csv"
    path.write_text("Asset ID,Hostname,FQDN,IP Address\n"
                    "T-1,,,10.0.0.5.\nT-2,10.0.0.6.,,\nT-3,,Host.Example.com.,2001:DB8::7.\n"
                    "T-4,,,10.0.0.300.\n,,,10.0.0.8.\n")
    inv = load_inventory(path)
    assert [_asset(inv, a)["ips"] for a in ("T-1", "T-2", "T-3", "T-4")] == [
        ["10.0.0.5"], ["10.0.0.6"], ["2001:db8::7"], []]
    assert _asset(inv, "T-3")["fqdn"] == "host.example.com"
    assert inv.lookups["fqdn"]["key"].tolist() == ["host.example.com"]
    assert _asset(inv, "10.0.0.8")["ips"] == ["10.0.0.8"]          # the id made from it too
    assert [(i.kind, i.asset_id) for i in inv.issues] == [("no_identity", "T-4"), ("bad_ip", "T-4"),
                                                          ("missing_asset_id", None)]


def test_xlsx_first_sheet_by_default_and_sheet_by_name(tmp_path):
    path = _xlsx(tmp_path / "inv.xlsx", {
        "Servers": [["Asset ID", "IP Address", "Owner"], ["S-1", "10.0.0.1", "Sam"]],
        "Network": [["Asset ID", "IP Address", "Owner"], ["N-1", "10.30.0.0/16", "Net"]],
    })
    assert list(load_inventory(path).assets["asset_id"]) == ["S-1"]
    net = load_inventory(path, sheet="Network")
    assert _asset(net, "N-1")["cidrs"] == ["10.30.0.0/16"]


def test_xlsx_numbers_and_booleans_read_as_text(tmp_path):
    path = _xlsx(tmp_path / "inv.xlsx", {"S": [
        ["Asset ID", "IP Address", "Criticality", "Internet Facing"],
        [1001, "10.0.0.1", 1, True]]})
    a = _asset(load_inventory(path), "1001")
    assert a["criticality"] == "critical" and bool(a["internet_facing"]) is True


def test_xlsx_formula_is_never_evaluated(tmp_path):
    path = _xlsx(tmp_path / "inv.xlsx", {"S": [
        ["Asset ID", "IP Address", "Owner"],
        ["F-1", "10.0.0.1", '=HYPERLINK("http://evil.example","x")'],
        ["F-2", "10.0.0.2", "=1+1"]]})
    inv = load_inventory(path)
    # openpyxl wrote no cached values: the formula text is kept as plain text
    assert _asset(inv, "F-1")["owner"] == '=HYPERLINK("http://evil.example","x")'
    assert _asset(inv, "F-2")["owner"] == "=1+1"


def test_xlsx_title_rows_and_merged_group_header_above_the_real_header(tmp_path):
    path = _xlsx(tmp_path / "inv.xlsx", {"S": [
        ["CMDB export 2024-03-01", None, None, None],
        ["Identity", None, "Ownership", None],
        ["Asset Tag", "IP", "Assigned To", "Support Group"],
        ["G-1", "10.0.0.1", "Gus", "Infra"]]},
        merges=[("S", "A2:B2"), ("S", "C2:D2")])
    inv = load_inventory(path)
    g = _asset(inv, "G-1")
    assert g["owner"] == "Gus" and g["team"] == "Infra" and g["source_row"] == 4


def test_xlsx_merged_header_spanning_two_ip_columns_reads_both(tmp_path):
    path = _xlsx(tmp_path / "inv.xlsx", {"S": [
        ["Asset ID", "IP Address", None, "Owner"],
        ["M-1", "10.0.0.1", "10.0.0.2", "Mo"]]}, merges=[("S", "B1:C1")])
    assert _asset(load_inventory(path), "M-1")["ips"] == ["10.0.0.1", "10.0.0.2"]


def test_inventory_from_a_dataframe():
    import pandas as pd

    inv = inventory_from_frame(pd.DataFrame({"asset_id": ["P-1"], "ip": ["10.0.0.9"],
                                             "criticality": ["High"]}))
    assert _asset(inv, "P-1")["criticality"] == "high"


# -- inventories that cannot be used: one clear line --------------------------------------

def _error(path, **kw) -> str:
    with pytest.raises(InventoryError) as info:
        load_inventory(path, **kw)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_unknown_criticality_names_the_row_and_value():
    message = _error(FIX / "bad_criticality.csv")
    assert message.startswith("bad_criticality.csv:3:")
    assert "'urgent'" in message and "critical, high, medium, low" in message


def test_duplicate_asset_ids_name_the_rows():
    message = _error(FIX / "duplicate_ids.csv")
    assert "duplicate asset id 'D-1'" in message and "rows 2, 4" in message


def test_no_identity_column_lists_columns_and_mapping_keys():
    message = _error(FIX / "no_identity.csv")
    assert "no identity column" in message
    assert "'Asset ID', 'Owner', 'Team'" in message
    assert "[inventory.columns]" in message and "internet_facing" in message


def test_mapped_header_missing_from_the_file():
    message = _error(FIX / "custom_headers.csv", columns={"ip": "IPv4 Addr"})
    assert "IPv4 Addr" in message and "'Machine', 'Addr'" in message


def test_unknown_mapping_key():
    assert "unknown key(s) in the column mapping: ipaddr" in _error(
        FIX / "basic.csv", columns={"ipaddr": "IP Address"})


@pytest.mark.parametrize("name, data, expected", [
    ("inv.xlsx", b"Asset ID,IP\nA,10.0.0.1\n", "not an XLSX workbook"),
    ("inv.xlsx", b"PK\x03\x04garbage", "not a readable XLSX workbook"),
    ("inv.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", ".xls"),
    ("inv.csv", b"", "empty"),
    ("inv.csv", b"\x00\x01\x02binary\x00", "binary"),
])
def test_unreadable_file_or_wrong_format(tmp_path, name, data, expected):
    path = tmp_path / name
    path.write_bytes(data)
    assert expected in _error(path)


def test_missing_file_and_missing_sheet(tmp_path):
    assert "no such file" in _error(tmp_path / "nope.csv")
    path = _xlsx(tmp_path / "inv.xlsx", {"Servers": [["IP"], ["10.0.0.1"]]})
    assert "no sheet named 'Laptops'" in _error(path, sheet="Laptops")
    assert "only applies to XLSX" in _error(FIX / "basic.csv", sheet="x")


def test_xlsx_formula_gives_its_cached_value_when_excel_saved_one(tmp_path):
    import zipfile

    src = _xlsx(tmp_path / "src.xlsx", {"S": [["Asset ID", "IP Address", "Owner"],
                                              ["C-1", "10.0.0.1", '=CONCAT("Ad","a")']]})
    path = tmp_path / "inv.xlsx"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(path, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename.endswith("sheet1.xml"):   # what Excel stores: formula + value
                data = data.replace(b"<v></v>", b'<v>Ada</v>').replace(
                    b"<c r=\"C2\">", b'<c r="C2" t="str">')
            zout.writestr(info, data)
    assert _asset(load_inventory(path), "C-1")["owner"] == "Ada"


# -- column normalisers agree with the one-value functions --------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from vulnpipe.ingest.addresses import normalize_hostname, normalize_ip, normalize_mac, short_name  # noqa: E402
from vulnpipe.ingest.assets.inventory import (  # noqa: E402
    normalize_hostnames,
    normalize_ips,
    normalize_macs_column,
    short_names,
)

_address_text = st.one_of(
    st.ip_addresses().map(str),
    st.ip_addresses(v=6).map(lambda a: a.exploded.upper()),
    st.ip_addresses(v=4).map(lambda a: f" [{a}] "),
    st.ip_addresses(v=4).map(lambda a: f"{a}%eth0"),
    st.lists(st.integers(0, 999), min_size=4, max_size=4).map(lambda p: ".".join(map(str, p))),
    st.text(alphabet="0123456789.:abcdefABCDEF%[] ", max_size=20),
    st.text(max_size=12),
    st.from_regex(r"[A-Za-z0-9-]{1,8}(\.[A-Za-z0-9-]{1,8}){0,3}\.? ?", fullmatch=True),
    st.binary(min_size=6, max_size=6).map(lambda b: ":".join(f"{x:02x}" for x in b)),
    st.binary(min_size=6, max_size=6).map(lambda b: "-".join(f"{x:02X}" for x in b)),
)


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.none() | _address_text, max_size=40))
def test_property_column_normalisers_equal_the_one_value_functions(values):
    import pandas as pd

    series = pd.Series(values, dtype=object)
    pairs = [(normalize_ips, normalize_ip), (normalize_hostnames, normalize_hostname),
             (short_names, short_name), (normalize_macs_column, normalize_mac)]
    for column_fn, scalar in pairs:
        expected = [scalar(v) if v is not None else None for v in values]
        got = [None if v is None or v is pd.NA else v for v in column_fn(series).tolist()]
        assert got == expected, column_fn.__name__
