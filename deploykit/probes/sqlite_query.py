"""Prints the rows of one SQL query on an SQLite database file as a JSON list of lists.

python3 sqlite_query.py DATABASE SQL
"""

from __future__ import annotations

import json
import sqlite3
import sys


def main(argv: list[str] | None = None) -> None:
    database, sql = sys.argv[1:] if argv is None else argv
    connection = sqlite3.connect(database)
    try:
        print(json.dumps(connection.execute(sql).fetchall()))
    finally:
        connection.close()


if __name__ == "__main__":
    main()
