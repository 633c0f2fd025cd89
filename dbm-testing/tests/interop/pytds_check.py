"""Runs a batch, a parameterised query (an sp_executesql RPC) and an error against the
TDS test server with python-tds, an independent TDS implementation. Exits non-zero on any
difference. Usage: pytds_check.py PORT PASSWORD"""
import datetime
import decimal
import sys

import pytds

port, password = int(sys.argv[1]), sys.argv[2]
with pytds.connect(server="127.0.0.1", port=port, database="master", user="sa",
                   password=password, autocommit=True, login_timeout=5, timeout=10) as conn:
    with conn.cursor() as cur:
        cur.execute("SELECT 1 AS one, N'héllo' AS greeting")
        rows = cur.fetchall()
        assert rows == [(1, "héllo")], rows
        print("batch ok", rows)

        cur.execute("CREATE TABLE interop (id BIGINT PRIMARY KEY, name NVARCHAR(50), "
                    "amount DECIMAL(10,2), at DATETIME2)")
        at = datetime.datetime(2024, 1, 2, 3, 4, 5)
        cur.execute("INSERT INTO interop (id, name, amount, at) VALUES (%s, %s, %s, %s)",
                    (1, "a'b", decimal.Decimal("12.30"), at))
        cur.execute("SELECT id, name, amount, at FROM interop WHERE id = %s", (1,))
        rows = cur.fetchall()
        assert rows == [(1, "a'b", decimal.Decimal("12.30"), at)], rows
        print("parameterised ok", rows)

        try:
            cur.execute("SELECT * FROM missing_table")
        except pytds.ProgrammingError as e:
            assert e.msg_no == 208, e.msg_no
            print("error ok", e.msg_no)
        else:
            sys.exit("the error did not reach the client")

        try:
            pytds.connect(server="127.0.0.1", port=port, database="master", user="sa",
                          password="wrong", autocommit=True, login_timeout=5)
        except pytds.OperationalError as e:
            assert e.msg_no == 18456, e.msg_no
            print("login failure ok", e.msg_no)
        else:
            sys.exit("a wrong password was accepted")
