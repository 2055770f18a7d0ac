/** Renders chat messages with a model's Jinja chat template (the one stored in its GGUF file). */
import { Template } from "@huggingface/jinja";
import { CHATML_TEMPLATE } from "../models/byte-level-vocab.js";
import type { ChatMessage } from "./types.js";

export class ChatTemplate {
  private readonly template: Template;
  readonly isModelTemplate: boolean;

  constructor(source: string | undefined, private readonly specials: { bos?: string; eos?: string }) {
    this.isModelTemplate = source !== undefined && source.length > 0;
    this.template = new Template(this.isModelTemplate ? source! : CHATML_TEMPLATE);
  }

  render(messages: ChatMessage[]): string {
    return this.template.render({
      messages,
      add_generation_prompt: true,
      bos_token: this.specials.bos ?? "",
      eos_token: this.specials.eos ?? "",
    });
  }
}
