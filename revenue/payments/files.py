"""A payment batch's files, rendered from plain data (no ORM): ISO 20022 pain.001.001.09 XML and a CSV of the lines.

The XML is one customer credit transfer initiation: a group header (message
id = the batch number, creation time in Beijing time, ``NbOfTxs`` and
``CtrlSum``), one payment information block whose debtor is the bank's
settlement account, and one ``CdtTrfTxInf`` per settlement with its number as
the end-to-end id and its payable as the CNY amount (two decimals). The
control sum is the exact Decimal sum of the amounts, so it equals the
settlements' payable to the fen. The CSV carries the same lines, with Chinese
headers, for people.

Rendering the same data again gives the same bytes; the service stores them
once and records their SHA-256.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from xml.etree import ElementTree as ET

from core.bank_codes import BIC, bank_code_kind
from core.money import CENT
from core.periods import CHINA_TZ
from core.spreadsheets import formula_safe

PAIN_001_NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"
CURRENCY = "CNY"
# The ISO 20022 text types' longest lengths (Max35Text, Max140Text, Max34Text…).
MAX_NAME = 140
MAX_REMITTANCE = 140

CSV_HEADER = ("序号", "端到端标识", "收款户名", "收款账号", "收款开户行", "金额", "币种", "附言")


@dataclass(frozen=True)
class Transfer:
    end_to_end_id: str
    amount: Decimal
    creditor_name: str
    creditor_account: str
    creditor_bank: str
    remittance: str


@dataclass(frozen=True)
class Debtor:
    name: str
    account: str
    bank_name: str
    bank_code: str


@dataclass(frozen=True)
class PaymentFileData:
    message_id: str
    created_at: dt.datetime
    execution_date: dt.date
    debtor: Debtor
    transfers: Sequence[Transfer]
    # Who sends the file: the bank (its legal name); the debtor account's name when not given.
    initiating_party: str = ""

    @property
    def control_sum(self) -> Decimal:
        return sum((t.amount for t in self.transfers), Decimal("0.00"))


def control_sum(amounts: Sequence[Decimal]) -> Decimal:
    """The batch's control sum: the amounts' exact sum (they are whole fen, so no rounding)."""
    return sum(amounts, Decimal("0.00")).quantize(CENT)


def _amount(value: Decimal) -> str:
    return f"{value.quantize(CENT):f}"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def _agent(parent: ET.Element, tag: str, *, name: str, code: str = "") -> None:
    institution = _sub(_sub(parent, tag), "FinInstnId")
    kind = bank_code_kind(code)
    if kind == BIC:
        _sub(institution, "BICFI", code)
    elif kind is not None:  # a CNAPS code: a member of China's national payment system
        member = _sub(institution, "ClrSysMmbId")
        _sub(_sub(member, "ClrSysId"), "Cd", "CNAPS")
        _sub(member, "MmbId", code)
    if name:
        _sub(institution, "Nm", name[:MAX_NAME])


def _account(parent: ET.Element, tag: str, number: str) -> None:
    account = _sub(parent, tag)
    _sub(_sub(_sub(account, "Id"), "Othr"), "Id", number)
    _sub(account, "Ccy", CURRENCY)


def pain001_xml(data: PaymentFileData) -> bytes:
    """The batch as a pain.001.001.09 document (UTF-8)."""
    count = str(len(data.transfers))
    total = _amount(control_sum([t.amount for t in data.transfers]))
    created = data.created_at.astimezone(CHINA_TZ).replace(microsecond=0).isoformat()

    root = ET.Element("Document", {"xmlns": PAIN_001_NAMESPACE})
    initiation = _sub(root, "CstmrCdtTrfInitn")
    header = _sub(initiation, "GrpHdr")
    _sub(header, "MsgId", data.message_id)
    _sub(header, "CreDtTm", created)
    _sub(header, "NbOfTxs", count)
    _sub(header, "CtrlSum", total)
    _sub(_sub(header, "InitgPty"), "Nm", (data.initiating_party or data.debtor.name)[:MAX_NAME])

    payment = _sub(initiation, "PmtInf")
    _sub(payment, "PmtInfId", data.message_id)
    _sub(payment, "PmtMtd", "TRF")
    _sub(payment, "BtchBookg", "false")  # one debit per transfer: each settlement is traceable on the statement
    _sub(payment, "NbOfTxs", count)
    _sub(payment, "CtrlSum", total)
    _sub(_sub(payment, "ReqdExctnDt"), "Dt", data.execution_date.isoformat())
    _sub(_sub(payment, "Dbtr"), "Nm", data.debtor.name[:MAX_NAME])
    _account(payment, "DbtrAcct", data.debtor.account)
    _agent(payment, "DbtrAgt", name=data.debtor.bank_name, code=data.debtor.bank_code)
    _sub(payment, "ChrgBr", "DEBT")  # the bank bears the charges: the partner receives the payable in full

    for transfer in data.transfers:
        tx = _sub(payment, "CdtTrfTxInf")
        _sub(_sub(tx, "PmtId"), "EndToEndId", transfer.end_to_end_id)
        _sub(_sub(tx, "Amt"), "InstdAmt", _amount(transfer.amount), Ccy=CURRENCY)
        if transfer.creditor_bank:
            _agent(tx, "CdtrAgt", name=transfer.creditor_bank)
        _sub(_sub(tx, "Cdtr"), "Nm", transfer.creditor_name[:MAX_NAME])
        _account(tx, "CdtrAcct", transfer.creditor_account)
        _sub(_sub(tx, "RmtInf"), "Ustrd", transfer.remittance[:MAX_REMITTANCE])

    ET.indent(root)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True) + b"\n"


def payment_csv(data: PaymentFileData) -> bytes:
    """The same lines for people: UTF-8 with a BOM (spreadsheets read the Chinese right), text formula-guarded."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for position, t in enumerate(data.transfers, start=1):
        writer.writerow(
            [
                position,
                formula_safe(t.end_to_end_id),
                formula_safe(t.creditor_name),
                formula_safe(t.creditor_account),
                formula_safe(t.creditor_bank),
                _amount(t.amount),
                CURRENCY,
                formula_safe(t.remittance),
            ]
        )
    return ("\ufeff" + out.getvalue()).encode()
