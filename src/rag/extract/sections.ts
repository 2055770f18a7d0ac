/**
 * Builds an ExtractedDocument's sections from a stream of headings, paragraphs and page breaks:
 * a new section starts wherever the heading path or the page changes, and a heading's own text is
 * the first line of the section it opens. Shared by the Markdown, HTML, docx, PDF, CSV and JSON
 * extractors so they agree on what a section is.
 */
import type { DocumentSection, ExtractedDocument } from "../types.js";
import { normalizeLine, normalizeText } from "./normalize.js";

/** Deepest heading level kept in a heading path (Markdown and HTML have 6). */
const MAX_LEVEL = 9;

export class SectionBuilder {
  private readonly sections: DocumentSection[] = [];
  private readonly path: string[] = [];
  private paragraphs: string[] = [];
  private page: number | undefined;
  private chars = 0;
  title: string | undefined;

  /** @param maxChars the most characters of text the document may have (bounds memory on adversarial input). */
  constructor(private readonly maxChars: number) {}

  /** A heading of level 1 (outermost) to 9; deeper levels are kept at 9. */
  heading(level: number, rawText: string): void {
    const text = normalizeLine(rawText);
    if (!text) return;
    this.flush();
    const depth = Math.min(Math.max(1, Math.floor(level)), MAX_LEVEL);
    // Drop deeper headings and any gap (an h3 straight under an h1 sits at depth 2, not 3).
    this.path.length = Math.min(this.path.length, depth - 1);
    this.path.push(text);
    this.paragraphs.push(text);
    this.count(text);
  }

  /** A block of body text; blocks are separated by a blank line in the section's text. */
  paragraph(rawText: string): void {
    const text = normalizeText(rawText);
    if (!text) return;
    this.paragraphs.push(text);
    this.count(text);
  }

  /** Starts a page (1-based); the heading path carries over from the previous page. */
  startPage(page: number): void {
    this.flush();
    this.page = page;
  }

  /** The document so far; the builder can keep going afterwards. */
  build(extra: Partial<ExtractedDocument> = {}): ExtractedDocument {
    this.flush();
    const doc: ExtractedDocument = { sections: [...this.sections], ...extra };
    if (doc.title === undefined && this.title) doc.title = this.title;
    return doc;
  }

  private flush(): void {
    if (this.paragraphs.length === 0) return;
    const section: DocumentSection = { text: this.paragraphs.join("\n\n"), headingPath: [...this.path] };
    if (this.page !== undefined) section.page = this.page;
    this.sections.push(section);
    this.paragraphs = [];
  }

  private count(text: string): void {
    this.chars += text.length + 2;
    if (this.chars > this.maxChars) throw new TooMuchText(this.maxChars);
  }
}

/** Thrown when a document's text passes the extraction limit (becomes invalid_file). */
export class TooMuchText extends Error {
  constructor(readonly limit: number) {
    super(`The document has more than ${limit} characters of text.`);
  }
}
