//! QR codes through the public API: every rendering read back by a real decoder (SVG
//! rasterised by `rsvg-convert`, then `zbarimg`), the structure of the SVG, the terminal and
//! matrix renderings, and the size limits.
// Helpers outside `#[test]` functions fail the test by panicking, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::panic)]

#[path = "data/uri/cases.rs"]
mod cases;
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use twofa::qr::{Color, ErrorCorrection, QrError, SvgOptions};
use twofa::{Error, OtpAuthUri, QrCode, Secret, Totp};

const LEVELS: [ErrorCorrection; 4] = [
    ErrorCorrection::Low,
    ErrorCorrection::Medium,
    ErrorCorrection::Quartile,
    ErrorCorrection::High,
];

fn decoders_available() -> bool {
    common::external_tool("rsvg-convert", &["--version"])
        && common::external_tool("zbarimg", &["--version"])
}

/// A scratch directory of this test process, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("twofa-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What `zbarimg` reads in a PNG file: exactly one QR code's text.
fn zbar(png: &Path) -> String {
    let out = Command::new("zbarimg")
        .args(["--raw", "--quiet", "-Sdisable", "-Sqrcode.enable"])
        .arg(png)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "zbarimg found no code in {}: {}",
        png.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    text.strip_suffix('\n').unwrap_or(&text).to_string()
}

/// Rasterises an SVG with `rsvg-convert` (at `width` pixels when given) and decodes it.
fn decode_svg(svg: &str, dir: &Path, name: &str, width: Option<u32>) -> String {
    let svg_path = dir.join(format!("{name}.svg"));
    let png_path = dir.join(format!("{name}.png"));
    std::fs::write(&svg_path, svg).unwrap();
    let mut rsvg = Command::new("rsvg-convert");
    if let Some(width) = width {
        rsvg.args(["-w", &width.to_string()]);
    }
    let status = rsvg
        .args(["-b", "white", "-o"])
        .arg(&png_path)
        .arg(&svg_path)
        .status()
        .unwrap();
    assert!(status.success(), "rsvg-convert failed on {name}");
    zbar(&png_path)
}

/// The URIs to render: every case of `cases.tsv` and a few more.
fn uris() -> Vec<OtpAuthUri> {
    let mut uris: Vec<OtpAuthUri> = cases::cases().iter().map(cases::Case::uri).collect();
    let totp = Totp::new(Secret::from_bytes(&[0x5a; 20]).unwrap());
    for (issuer, account) in [
        (Some("Plausible Analytics"), "alice@example.com"),
        (None, "no-issuer@example.com"),
        (Some("Ünïcødé GmbH"), "🔐🔑"),
    ] {
        uris.push(
            OtpAuthUri::for_totp(&totp, account)
                .issuer(issuer)
                .build()
                .unwrap(),
        );
    }
    uris
}

/// SVG options to cycle through; the width to rasterise at when the SVG leaves it open.
fn svg_variants() -> Vec<(SvgOptions, Option<u32>)> {
    vec![
        (SvgOptions::default(), None),
        (
            SvgOptions::new()
                .dark(Color::from_hex("#1d4ed8").unwrap())
                .light(Color::from_hex("#fefce8").unwrap())
                .title("Scan <me> & \"enrol\""),
            None,
        ),
        (SvgOptions::new().module_size(0), Some(600)),
        (SvgOptions::new().module_size(4), None),
    ]
}

#[test]
fn zbarimg_reads_every_svg_rendering_back_to_the_uri() {
    if !decoders_available() {
        return;
    }
    let scratch = Scratch::new("qr-svg");
    let uris = uris();
    assert!(uris.len() >= 50, "{}", uris.len());
    let variants = svg_variants();
    for (i, uri) in uris.iter().enumerate() {
        let text = uri.to_string();
        let level = LEVELS[i % LEVELS.len()];
        let qr = QrCode::from_uri_with(uri, level).unwrap();
        assert!(qr.error_correction() >= level);
        let (options, width) = &variants[i % variants.len()];
        let svg = qr.to_svg_with(options);
        let decoded = decode_svg(&svg, &scratch.0, &format!("uri-{i}"), *width);
        assert_eq!(decoded, text, "case {i}, {level:?}, {options:?}");
        // The data URI carries the same document.
        let data = qr.to_data_uri_with(options);
        let base64 = data.strip_prefix("data:image/svg+xml;base64,").unwrap();
        assert_eq!(
            data_encoding_free_base64_decode(base64),
            svg.as_bytes(),
            "case {i}"
        );
    }
}

#[test]
fn default_renderings_decode_too() {
    if !decoders_available() {
        return;
    }
    let scratch = Scratch::new("qr-default");
    let uri = &uris()[0];
    let qr = QrCode::from_uri(uri).unwrap();
    assert_eq!(qr.error_correction(), ErrorCorrection::Medium);
    assert_eq!(
        decode_svg(&qr.to_svg(), &scratch.0, "default", None),
        uri.to_string()
    );
    // Any text, not only URIs.
    let text = "https://example.com/enable-2fa?step=2";
    let svg = QrCode::encode(text).unwrap().to_svg();
    assert_eq!(decode_svg(&svg, &scratch.0, "text", None), text);
}

#[cfg(feature = "png")]
#[test]
fn zbarimg_reads_the_png_rendering() {
    if !common::external_tool("zbarimg", &["--version"]) {
        return;
    }
    let scratch = Scratch::new("qr-png");
    for (i, uri) in uris().iter().enumerate().step_by(5) {
        let module_size = [2, 3, 8][i % 3];
        let png = QrCode::from_uri(uri).unwrap().to_png(module_size).unwrap();
        let path = scratch.0.join(format!("png-{i}.png"));
        std::fs::write(&path, png).unwrap();
        assert_eq!(zbar(&path), uri.to_string(), "case {i}");
    }
    assert_eq!(
        QrCode::encode("x").unwrap().to_png(0),
        Err(Error::Qr(QrError::ModuleSizeOutOfRange {
            size: 0,
            max: 32
        }))
    );
}

/// The modules an SVG of this crate draws dark, read from its one `<path>`: each subpath is a
/// run `M{x} {y}h{len}v1h-{len}z`, in coordinates that include the quiet zone.
fn svg_dark_modules(svg: &str, side: usize) -> Vec<Vec<bool>> {
    assert_eq!(svg.matches("<path").count(), 1, "{svg}");
    let d = svg
        .split(" d=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let mut dark = vec![vec![false; side]; side];
    for run in d.split_terminator('z') {
        let (xy, rest) = run.strip_prefix('M').unwrap().split_once('h').unwrap();
        let (x, y) = xy.split_once(' ').unwrap();
        let (len, back) = rest.split_once("v1h-").unwrap();
        assert_eq!(len, back, "{run}");
        let (x, y, len): (usize, usize, usize) =
            (x.parse().unwrap(), y.parse().unwrap(), len.parse().unwrap());
        assert!(len > 0 && x + len <= side && y < side, "{run}");
        for module in &mut dark[y][x..x + len] {
            assert!(!*module, "{run} overlaps another run");
            *module = true;
        }
    }
    dark
}

/// The matrix with the quiet zone around it, as the renderers draw it.
fn with_quiet_zone(matrix: &[Vec<bool>]) -> Vec<Vec<bool>> {
    let quiet = QrCode::QUIET_ZONE;
    let side = matrix.len() + 2 * quiet;
    (0..side)
        .map(|y| {
            (0..side)
                .map(|x| {
                    let inside = |v: usize| v.checked_sub(quiet).filter(|v| *v < matrix.len());
                    match (inside(x), inside(y)) {
                        (Some(x), Some(y)) => matrix[y][x],
                        _ => false,
                    }
                })
                .collect()
        })
        .collect()
}

#[test]
fn svg_has_one_path_a_quiet_zone_and_a_title() {
    let qr = QrCode::from_uri(&uris()[0]).unwrap();
    let side = qr.size() + 2 * QrCode::QUIET_ZONE;
    let svg = qr.to_svg();
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{svg}"
    );
    assert!(svg.ends_with("</svg>"));
    assert!(svg.contains(&format!("viewBox=\"0 0 {side} {side}\"")));
    let pixels = side * 8;
    assert!(svg.contains(&format!("width=\"{pixels}\" height=\"{pixels}\"")));
    assert!(svg.contains("shape-rendering=\"crispEdges\""));
    assert!(svg.contains("<title>QR code to scan with an authenticator app</title>"));
    assert!(svg.contains("fill=\"#000000\"") && svg.contains("fill=\"#ffffff\""));
    // The path draws exactly the dark modules, and nothing in the quiet zone.
    assert_eq!(
        svg_dark_modules(&svg, side),
        with_quiet_zone(&qr.to_matrix())
    );
    // Module size 0 leaves the size to the container: no width or height on the image.
    let svg = qr.to_svg_with(&SvgOptions::new().module_size(0));
    let svg_tag = svg.split_once('>').unwrap().0;
    assert!(
        !svg_tag.contains("width=") && !svg_tag.contains("height="),
        "{svg_tag}"
    );
    assert!(svg_tag.contains(&format!("viewBox=\"0 0 {side} {side}\"")));
    // The title is escaped, and no option puts the secret in the document in clear.
    let svg = qr.to_svg_with(&SvgOptions::new().title("</title><script>"));
    assert!(svg.contains("<title>&lt;/title&gt;&lt;script&gt;</title>"));
    let secret = uris()[0].secret().to_base32();
    assert!(!svg.contains(&*secret));
}

#[test]
fn data_uris_carry_the_svg_in_base64() {
    let qr = QrCode::from_uri(&uris()[0]).unwrap();
    let base64 = |data: &str| {
        let payload = data.strip_prefix("data:image/svg+xml;base64,").unwrap();
        data_encoding_free_base64_decode(payload)
    };
    assert_eq!(base64(&qr.to_data_uri()), qr.to_svg().as_bytes());
    for (options, _) in svg_variants() {
        assert_eq!(
            base64(&qr.to_data_uri_with(&options)),
            qr.to_svg_with(&options).as_bytes()
        );
    }
}

/// Writes the matrix as a plain PBM image (1 is black), quiet zone included, `scale` pixels a
/// module: a rendering of the test's own, so that a decoder checks the matrix itself.
fn matrix_pbm(matrix: &[Vec<bool>], scale: usize) -> String {
    let modules = with_quiet_zone(matrix);
    let side = modules.len() * scale;
    let mut out = format!("P1\n{side} {side}\n");
    for row in &modules {
        let line: Vec<&str> = row
            .iter()
            .flat_map(|&dark| std::iter::repeat_n(if dark { "1" } else { "0" }, scale))
            .collect();
        for _ in 0..scale {
            out.push_str(&line.join(" "));
            out.push('\n');
        }
    }
    out
}

#[test]
fn zbarimg_reads_the_module_matrix() {
    if !common::external_tool("zbarimg", &["--version"]) {
        return;
    }
    let scratch = Scratch::new("qr-matrix");
    for (i, uri) in uris().iter().enumerate().step_by(7) {
        let qr = QrCode::from_uri_with(uri, LEVELS[i % LEVELS.len()]).unwrap();
        let path = scratch.0.join(format!("matrix-{i}.pbm"));
        std::fs::write(&path, matrix_pbm(&qr.to_matrix(), 3)).unwrap();
        assert_eq!(zbar(&path), uri.to_string(), "case {i}");
    }
}

#[test]
fn the_matrix_has_the_structure_of_a_qr_code() {
    for text in [
        "hello",
        "otpauth://totp/A:b?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
    ] {
        let qr = QrCode::encode(text).unwrap();
        let m = qr.to_matrix();
        let size = qr.size();
        assert_eq!(size, 4 * usize::from(qr.version()) + 17);
        assert_eq!(m.len(), size);
        assert!(m.iter().all(|row| row.len() == size));
        // The three finder patterns: a dark 7x7 ring, a light ring, a dark 3x3 centre, and a
        // light separator around them inside the code.
        for (cx, cy) in [(0, 0), (size - 7, 0), (0, size - 7)] {
            for dy in 0..7 {
                for dx in 0..7 {
                    let ring = dx.max(dy).max(6 - dx).max(6 - dy);
                    // 3 is the centre, 6 the outer ring; only ring 5 is light.
                    let expected = ring != 5;
                    assert_eq!(
                        m[cy + dy][cx + dx],
                        expected,
                        "finder at ({cx}, {cy}) + ({dx}, {dy})"
                    );
                }
            }
        }
        for i in 0..8 {
            assert!(!m[7][i] && !m[i][7], "separator, top left");
            assert!(
                !m[7][size - 1 - i] && !m[i][size - 8],
                "separator, top right"
            );
            assert!(
                !m[size - 8][i] && !m[size - 1 - i][7],
                "separator, bottom left"
            );
        }
        // The timing patterns alternate between the finders on row 6 and column 6.
        for (i, row) in m.iter().enumerate().take(size - 8).skip(8) {
            assert_eq!(m[6][i], i % 2 == 0, "timing, row 6, column {i}");
            assert_eq!(row[6], i % 2 == 0, "timing, column 6, row {i}");
        }
        // The module beside the bottom-left finder is always dark.
        assert!(m[size - 8][8]);
        // Outside the code, nothing is dark.
        assert!(!qr.is_dark(size, 0) && !qr.is_dark(0, size) && !qr.is_dark(usize::MAX, 0));
    }
}

#[test]
fn terminal_renderings_draw_the_matrix() {
    let qr = QrCode::encode("otpauth://totp/A:b?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap();
    let modules = with_quiet_zone(&qr.to_matrix());
    let side = modules.len();
    for (inverted, text) in [(false, qr.to_terminal()), (true, qr.to_terminal_inverted())] {
        let lines: Vec<Vec<char>> = text.lines().map(|l| l.chars().collect()).collect();
        assert_eq!(lines.len(), side.div_ceil(2));
        assert!(text.ends_with('\n'));
        for y in 0..side {
            assert_eq!(lines[y / 2].len(), side);
            for x in 0..side {
                let c = lines[y / 2][x];
                let drawn = if y % 2 == 0 {
                    c == '█' || c == '▀'
                } else {
                    c == '█' || c == '▄'
                };
                assert_eq!(
                    drawn,
                    modules[y][x] != inverted,
                    "({x}, {y}), inverted: {inverted}"
                );
            }
        }
    }
}

#[test]
fn size_limits() {
    // Every URI the crate accepts fits at the default level.
    let long = "x".repeat(OtpAuthUri::MAX_LEN);
    assert!(QrCode::encode(&long).is_ok());
    assert_eq!(
        QrCode::encode_with(&long, ErrorCorrection::High),
        Err(Error::Qr(QrError::DataTooLong {
            len: 2048,
            level: ErrorCorrection::High
        }))
    );
    let shown = QrCode::encode_with(&long, ErrorCorrection::High)
        .unwrap_err()
        .to_string();
    assert_eq!(
        shown,
        "QR code: 2048 bytes do not fit in a QR code at error correction level H"
    );
    let qr = QrCode::encode_with(&"y".repeat(QrCode::MAX_TEXT_LEN), ErrorCorrection::Low).unwrap();
    assert_eq!((qr.version(), qr.size()), (40, 177));
    assert!(
        QrCode::encode_with(&"y".repeat(QrCode::MAX_TEXT_LEN + 1), ErrorCorrection::Low).is_err()
    );
}

/// Standard base64 decoding, written out here so that the check does not trust the encoder
/// the crate uses.
fn data_encoding_free_base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    };
    let bytes = text.trim_end_matches('=').as_bytes();
    let mut out = Vec::new();
    for chunk in bytes.chunks(4) {
        let n = chunk.iter().fold(0u32, |acc, &c| acc << 6 | value(c)) << (6 * (4 - chunk.len()));
        let full = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&full[..chunk.len() - 1]);
    }
    out
}
