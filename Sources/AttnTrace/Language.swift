/// The languages AttnLab speaks: lessons, reports, figures and the terminal interface.
public enum Language: String, CaseIterable, Sendable {
    case en, ja

    /// `en` or `ja`, whichever this language is: every translated phrase is written at its one use,
    /// English and Japanese side by side (`language.en("tokens", ja: "トークン")`), so no string table
    /// drifts from the code that prints it.
    public func en(_ english: String, ja japanese: String) -> String {
        switch self {
        case .en: english
        case .ja: japanese
        }
    }
}
