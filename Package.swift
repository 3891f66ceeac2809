// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "AttnLab",
    products: [
        // MARK: - Public API
        .executable(name: "attnlab", targets: ["AttnLabCLI"]),
        .library(name: "AttnEngine", targets: ["AttnEngine"]),
        .library(name: "AttnTiling", targets: ["AttnTiling"]),
        .library(name: "AttnTrace", targets: ["AttnTrace"]),
        .library(name: "AttnFigures", targets: ["AttnFigures"]),
        .library(name: "AttnRender", targets: ["AttnRender"]),
        .library(name: "AttnLessons", targets: ["AttnLessons"]),
        .library(name: "AttnModels", targets: ["AttnModels"]),
        .library(name: "AttnExperiments", targets: ["AttnExperiments"]),
        .library(name: "AttnTraining", targets: ["AttnTraining"]),
        .library(name: "AttnViewer", targets: ["AttnViewer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // MARK: - Implementation details
        // SIMD kernels in C, compiled for the baseline and for AVX2 and chosen at run time, with the
        // same bits on every path (C because Swift cannot compile one function for another CPU).
        .target(name: "CKernels"),
        // Pure computation: model, attention, KV cache, calculators. No file or terminal I/O.
        .target(name: "AttnEngine", dependencies: ["CKernels"]),
        // Naive and tiled (FlashAttention 1/2) attention on a modelled HBM + SRAM hierarchy.
        .target(name: "AttnTiling", dependencies: ["AttnEngine", "CKernels"]),
        // Pretrained models from GGUF files: the file reader, dequantization, the byte-level BPE
        // tokenizer, and the mapping of a Llama GGUF onto the engine's decoder; checkpoints written as
        // GGUF (through AttnTrace's atomic file writes).
        .target(name: "AttnModels", dependencies: ["AttnEngine", "AttnTrace"]),
        // Training: the decoder's forward with every activation kept, its hand-written backward pass,
        // optimizers, the corpus, a BPE trainer and the synthetic recall task.
        .target(name: "AttnTraining", dependencies: ["AttnEngine", "AttnModels", "CKernels"]),
        // Engine results as trace events, and their writers (JSON Lines, text), atomic files.
        .target(name: "AttnTrace", dependencies: ["AttnEngine", "AttnTiling"]),
        // Figures as values (pages of shapes), drawn from models and runs. No Cairo.
        .target(name: "AttnFigures", dependencies: ["AttnEngine", "AttnTiling", "AttnTrace"]),
        // The interactive trace player: a trace (decode, tile, training log) to one self-contained HTML
        // page. Its HTML, CSS and JavaScript are readable files in Player/, compiled in as bytes, so
        // the binary needs no resource files at run time. Colours come from AttnFigures' Theme.
        .target(name: "AttnViewer", dependencies: ["AttnEngine", "AttnTrace", "AttnFigures"],
                resources: [.embedInCode("Player/page.html"), .embedInCode("Player/player.css"), .embedInCode("Player/player.js")]),
        // The only module that knows Cairo: figures to PNG, SVG and PDF.
        .systemLibrary(name: "CCairo", pkgConfig: "cairo", providers: [.apt(["libcairo2-dev"])]),
        .target(name: "AttnRender", dependencies: ["AttnEngine", "AttnTrace", "AttnFigures", "CCairo"]),
        // Experiments as typed values: every action and figure kind a teacher can run, read from flags,
        // run to a typed result (its values, its trace, the figures drawn from that run). One registry.
        .target(name: "AttnExperiments", dependencies: ["AttnEngine", "AttnTiling", "AttnModels", "AttnTraining", "AttnTrace", "AttnFigures"]),
        // Lessons as data: the file format, checks, narration templates, the runner and its reports.
        // It renders figures through AttnRender, so it never sees Cairo itself.
        .target(name: "AttnLessons", dependencies: ["AttnEngine", "AttnTrace", "AttnFigures", "AttnRender", "AttnExperiments", "AttnViewer", .product(name: "Yams", package: "Yams")]),
        // The `attnlab` command on top of everything else.
        .executableTarget(
            name: "AttnLabCLI",
            dependencies: [
                "AttnEngine",
                "AttnTiling",
                "AttnTrace",
                "AttnFigures",
                "AttnRender",
                "AttnLessons",
                "AttnModels",
                "AttnExperiments",
                "AttnTraining",
                "AttnViewer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // MARK: - Tests
        .testTarget(name: "AttnEngineTests", dependencies: ["AttnEngine", "AttnModels"]),
        .testTarget(name: "AttnTilingTests", dependencies: ["AttnEngine", "AttnTiling", "CKernels"]),
        .testTarget(name: "AttnTraceTests", dependencies: ["AttnEngine", "AttnTiling", "AttnTrace"]),
        .testTarget(name: "AttnFiguresTests", dependencies: ["AttnEngine", "AttnTiling", "AttnTrace", "AttnFigures", "AttnRender"]),
        .testTarget(name: "AttnRenderTests", dependencies: ["AttnEngine", "AttnTiling", "AttnTrace", "AttnFigures", "AttnRender"]),
        .testTarget(name: "AttnModelsTests", dependencies: ["AttnEngine", "AttnModels"]),
        .testTarget(name: "AttnExperimentsTests", dependencies: ["AttnEngine", "AttnTiling", "AttnFigures", "AttnExperiments", "AttnTrace", "AttnRender"]),
        .testTarget(name: "AttnTrainingTests", dependencies: ["AttnEngine", "AttnModels", "AttnTraining", "CKernels"]),
        .testTarget(name: "AttnViewerTests", dependencies: ["AttnEngine", "AttnTiling", "AttnTrace", "AttnViewer"]),
        .testTarget(name: "AttnLessonsTests", dependencies: ["AttnLessons", "AttnExperiments", "AttnFigures", "AttnRender", "AttnTrace"]),
        .testTarget(name: "AttnLabCLITests", dependencies: ["AttnLabCLI", "AttnEngine", "AttnModels", "AttnExperiments", "AttnFigures", "AttnTrace"]),
    ]
)
