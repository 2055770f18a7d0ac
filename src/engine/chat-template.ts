/** Renders chat messages with a model's Jinja chat template (the one stored in its GGUF file). */
import { Template } from "@huggingface/jinja";
import { CHATML_TEMPLATE } from "../models/byte-level-vocab.js";
import type { ChatMessage, ChatTemplateOptions } from "./types.js";

export class ChatTemplate {
  private readonly template: Template;
  readonly isModelTemplate: boolean;
  /** Renders `tools` and teaches the `<tool_call>` format (Hermes, Qwen 2.5/3 and many fine-tunes). */
  readonly hasToolCallFormat: boolean;

  constructor(source: string | undefined, private readonly specials: { bos?: string; eos?: string }) {
    this.isModelTemplate = source !== undefined && source.length > 0;
    this.template = new Template(this.isModelTemplate ? source! : CHATML_TEMPLATE);
    this.hasToolCallFormat = this.isModelTemplate && /\btools\b/.test(source!) && source!.includes("<tool_call>");
  }

  render(messages: ChatMessage[], options: ChatTemplateOptions = {}): string {
    return this.template.render({
      messages,
      ...(options.tools ? { tools: options.tools } : {}),
      add_generation_prompt: true,
      bos_token: this.specials.bos ?? "",
      eos_token: this.specials.eos ?? "",
    });
  }
}
