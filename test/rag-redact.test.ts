/** PII redaction: each detector's validator (Luhn, IBAN mod-97, SSN ranges, phone digits, e-mail labels) and look-alikes left alone. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ibanValid, luhnValid, redactDocument, redactPersonalData, ssnValid } from "../src/rag/redact.js";

describe("PII redaction", () => {
  it("redacts validated personal data and counts it", () => {
    const { text, counts } = redactPersonalData("Write to ada.lovelace@example.co.uk, call +44 20 7946 0958 or (415) 555-2671. Card 4111 1111 1111 1111, IBAN GB82 WEST 1234 5698 7654 32, SSN 123-45-6789.");
    assert.equal(text, "Write to [EMAIL], call [PHONE] or [PHONE]. Card [CARD], IBAN [IBAN], SSN [SSN].");
    assert.deepEqual(counts, { email: 1, phone: 2, card: 1, iban: 1, ssn: 1 });
  });

  it("leaves look-alikes that fail validation", () => {
    const input = "Card 4111 1111 1111 1112 (bad Luhn), IBAN GB82 WEST 1234 5698 7654 33 (bad check), SSNs 666-12-3456, 900-12-3456, 123-00-4567 and 123-45-0000, "
      + "date 2024-01-15, order 12345, year 2026, version 1.2.3, a@b, x@-bad-.com, 0000000000000.";
    const { text, counts } = redactPersonalData(input);
    assert.equal(text, input);
    assert.deepEqual(counts, { email: 0, phone: 0, card: 0, iban: 0, ssn: 0 });
  });

  it("validators", () => {
    assert.equal(luhnValid("79927398713"), true);
    assert.equal(luhnValid("79927398710"), false);
    assert.equal(ibanValid("DE89 3704 0044 0532 0130 00"), true);
    assert.equal(ibanValid("DE89 3704 0044 0532 0130 0"), false, "wrong length for DE");
    assert.equal(ibanValid("FR14 2004 1010 0505 0001 3M02 606"), true);
    assert.equal(ssnValid("078", "05", "1120"), true);
    assert.equal(ssnValid("000", "12", "3456"), false);
  });

  it("redacts a document's sections and headings", () => {
    const { doc, counts } = redactDocument({ sections: [{ text: "Contact bob@example.org", headingPath: ["Mail bob@example.org"] }] });
    assert.deepEqual(doc.sections[0], { text: "Contact [EMAIL]", headingPath: ["Mail [EMAIL]"] });
    assert.equal(counts.email, 1);
  });
});
