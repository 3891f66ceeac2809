/// How a chat model expects a user's turn to be wrapped before it answers.
public enum ChatTemplate: Sendable {
    /// ChatML (`<|im_start|>user … <|im_end|>`), SmolLM2-Instruct's template.
    case chatML

    /// The prompt as one user turn, followed by the opening of the assistant's turn.
    public func userTurn(_ prompt: String) -> String {
        switch self {
        case .chatML: "<|im_start|>user\n\(prompt)<|im_end|>\n<|im_start|>assistant\n"
        }
    }

    /// The template a tokenizer's control tokens imply: ChatML when it has `<|im_start|>` and `<|im_end|>`.
    public static func detect(_ tokenizer: BPETokenizer) -> ChatTemplate? {
        tokenizer.id(of: "<|im_start|>") != nil && tokenizer.id(of: "<|im_end|>") != nil ? .chatML : nil
    }
}
