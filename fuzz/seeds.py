#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora into DIR/<target>/: slices of the Clinics fixture's CSV files
(fixtures/clinics/*.csv) and a few typical values and requests, each with the selector bytes its target
reads first (see the doc comment of each target in fuzz_targets/). Run by scripts/fuzz.sh; nothing it
writes is committed."""

import hashlib
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
# The order of the tables in fixtures/clinics.toml, then the every-type table of fuzz/src/lib.rs.
TABLES = {"sites.csv": 0, "delivery_centre.csv": 1, "org_unit.csv": 2}
TYPES = ["varchar", "character", "text", "smallint", "integer", "bigint", "decimal", "real", "double",
         "boolean", "date", "time", "timetz", "timestamp", "timestamptz"]
VALUES = {
    "varchar": ["0001", " padded ", "Näme"], "character": ["ab", "x"], "text": ["a\nb", ""],
    "smallint": ["-32768", "+7", " 12 "], "integer": ["2147483647", "-0"], "bigint": ["-9223372036854775808"],
    "decimal": ["12.50", "-0.005", "1e3", ".5", "123456789012345678901234567890.123"],
    "real": ["1.5", "NaN", "-Infinity", "3.4028235e38", "1e-45"], "double": ["-0.0", "1.7976931348623157e308"],
    "boolean": ["true", "F", "yes", "0"],
    "date": ["2024-02-29", "03/04/2024", "0001-01-01", "9999-12-31", "20240102"],
    "time": ["23:59:59.999999", "24:00:00", "7:05"],
    "timetz": ["12:00:00+05:30", "00:00:00-14"],
    "timestamp": ["2024-01-02 03:04:05.5", "2024-01-02T03:04:05", "9999-12-31 23:59:59.999999"],
    "timestamptz": ["2024-01-02T03:04:05.5+00", "2024-01-02 03:04:05-08:00", "1970-01-01T00:00:00Z"],
}
FORMATS = [("date", "DD.MM.YYYY", "31.12.2023"), ("timestamp", "YYYY-MM-DD HH24:MI:SS", "2024-01-02 13:04:05"),
           ("timestamptz", 'YYYY"T"HH12:MI AM TZH:TZM', "2024T01:30 PM +05:30")]
REQUESTS = [
    b"\x00page=2&per_page=3&q=name:cont:m",
    b"\x00q=flag:eq:true&per_page=99999999999999999999999",
    b"\x00q=N%C3%A4me",
    b'\x01{"startRow":0,"endRow":100,"filterModel":{"integer":{"filterType":"number","type":"greaterThan","filter":5},'
    b'"date":{"filterType":"date","type":"equals","dateFrom":"2024-01-02 00:00:00"},"text":{"type":"contains","filter":"x"}},'
    b'"sortModel":[{"colId":"varchar","sort":"desc"},{"colId":"bigint"}]}',
    b'\x02{"branch_id":"1","table_definition_key":7,"pattern":"incremental","high_water_mark":"2024-01-02T03:04:05+00",'
    b'"include_history":"true","correlation_code":"c"}',
    b"\x0342",
    b"\x04X-Trdm-Expires=1700000000&X-Trdm-Signature=00ff",
    b"\x05500ms", b"\x051.5", b"\x051e30",
]
CSV = [
    b"\x00\x00a,b,c\n1,,\"\"\n\"x\"\"y\",\"multi\nline\",z\r\n",
    b"\x04\x03\x01\x02\x05a|b\n\xef\xbb\xbf1|2\n\"q\"|\n",
    b"\x00\x00\xef\xbb\xbfname\n\n\n",
]
EVERY_TYPE = (b"code,name,ch,ch1,small,int,big,amount,whole,wide,huge,free,r,d,flag,day,at,attz,ts,tstz\n"
              b"A1,\"\",ab,x,-7,42,-9223372036854775808,12.5,99999,1.234,-0.5,1e-3,1.5,NaN,true,2024-02-29,"
              b"24:00:00,12:00:00+05:30,2024-01-02 03:04:05.5,2024-01-02T03:04:05Z\n"
              b"B2,x,,,,,,,,,,,,,,,,,,\n")


def write(directory: pathlib.Path, data: bytes) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / hashlib.sha1(data).hexdigest()).write_bytes(data)


def main(out: pathlib.Path) -> None:
    for name, index in TABLES.items():
        lines = (ROOT / "fixtures" / "clinics" / name).read_bytes().splitlines(keepends=True)
        head = b"".join(lines[:12])
        write(out / "arrow_decoder", bytes([index, 5]) + head)
        write(out / "arrow_decoder", bytes([index | 16, 64]) + b"".join(lines[12:20]))
        write(out / "csv_reader", b"\x00\x02\x07\x40" + head)
    write(out / "arrow_decoder", bytes([3, 1]) + EVERY_TYPE)
    write(out / "arrow_decoder", bytes([3 | 16, 2]) + EVERY_TYPE.split(b"\n", 1)[1])
    for seed in CSV:
        write(out / "csv_reader", seed)
    for i, t in enumerate(TYPES):
        size = {"varchar": 10, "character": 4, "decimal": 40}.get(t, 0)
        scale = 3 if t == "decimal" else 0
        for value in VALUES[t]:
            write(out / "values", bytes([i, size, scale, 0]) + value.encode())
    for t, pattern, value in FORMATS:
        write(out / "values", bytes([TYPES.index(t), 0, 0, 4]) + f"{pattern}\0{value}".encode())
    for seed in REQUESTS:
        write(out / "requests", seed)


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]))
