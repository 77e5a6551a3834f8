//! The views of the window. Each file draws one view from results the worker computed;
//! none runs SQL or touches files. What a view wants done beyond drawing (save a file,
//! drill down, open a dialog) it returns as an `Action` for the app to carry out.

pub mod cohorts;
pub mod data;
pub mod filters;
pub mod groups;
pub mod import_wizard;
pub mod overview;
pub mod quality;
pub mod sessions;
pub mod settings_dialog;

use egui::{Color32, Rect, RichText, Ui};
use serde::{Deserialize, Serialize};

/// The views of SPEC section 7, in the order of the side panel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum View {
    #[default]
    Overview,
    Cohorts,
    Channels,
    Campaigns,
    Sessions,
    Quality,
    Data,
}

impl View {
    pub const ALL: [Self; 7] = [
        Self::Overview,
        Self::Cohorts,
        Self::Channels,
        Self::Campaigns,
        Self::Sessions,
        Self::Quality,
        Self::Data,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::Overview => "Overview",
            Self::Cohorts => "Cohorts",
            Self::Channels => "Channels",
            Self::Campaigns => "Campaigns",
            Self::Sessions => "Sessions",
            Self::Quality => "Quality",
            Self::Data => "Data",
        }
    }
}

/// Something a view asks the app to do.
#[derive(Clone, Debug)]
pub enum Action {
    /// Save a table as CSV (the app asks where).
    ExportCsv { name: String, table: TableData },
    /// Save the part of the window inside `rect` as a PNG (the app asks where).
    SavePlot { name: String, rect: Rect },
    /// Show a channel's campaigns.
    DrillDown { channel: String },
    /// Ask whether to take an import out of the project.
    RemoveImport { id: i64, file: String },
}

/// A table as text, for CSV export and the clipboard.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TableData {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl TableData {
    /// Tab-separated text that pastes into a spreadsheet as cells.
    pub fn to_tsv(&self) -> String {
        let clean = |cell: &String| cell.replace(['\t', '\n', '\r'], " ");
        std::iter::once(&self.header)
            .chain(&self.rows)
            .map(|row| row.iter().map(clean).collect::<Vec<_>>().join("\t"))
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    }

    /// RFC 4180 CSV.
    pub fn to_csv(&self) -> Vec<u8> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        for row in std::iter::once(&self.header).chain(&self.rows) {
            // Writing to memory cannot fail.
            let _ = writer.write_record(row);
        }
        writer.into_inner().unwrap_or_default()
    }
}

/// "Copy" and "Export CSV…" buttons for a table.
pub fn table_buttons_ui(
    ui: &mut Ui,
    name: &str,
    table: impl FnOnce() -> TableData,
    actions: &mut Vec<Action>,
) {
    let copy = ui
        .button("Copy")
        .on_hover_text("Copy the table as tab-separated text, to paste into a spreadsheet");
    let export = ui
        .button("Export CSV…")
        .on_hover_text("Save the table as a CSV file");
    if copy.clicked() || export.clicked() {
        let table = table();
        if copy.clicked() {
            ui.ctx().copy_text(table.to_tsv());
        } else {
            actions.push(Action::ExportCsv {
                name: name.to_owned(),
                table,
            });
        }
    }
}

/// A "Save PNG…" button for the plot drawn in `rect`.
pub fn save_plot_button_ui(ui: &mut Ui, name: &str, rect: Rect, actions: &mut Vec<Action>) {
    if ui
        .small_button("Save PNG…")
        .on_hover_text("Save this plot as a PNG image")
        .clicked()
    {
        actions.push(Action::SavePlot {
            name: name.to_owned(),
            rect,
        });
    }
}

/// Text shown where a value is undefined (zero denominator, nothing mature).
pub const NA: &str = "n/a";

pub fn fmt_opt(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| NA.to_owned(), |v| format!("{v:.decimals$}"))
}

pub fn fmt_percent(value: Option<f64>) -> String {
    value.map_or_else(|| NA.to_owned(), |v| format!("{:.1}%", v * 100.0))
}

pub fn fmt_money(value: Option<f64>) -> String {
    value.map_or_else(|| NA.to_owned(), |v| format!("{v:.2}"))
}

/// Seconds as `42 s`, `12m 5s` or `3h 2m`.
pub fn fmt_duration(seconds: Option<f64>) -> String {
    let Some(s) = seconds else {
        return NA.to_owned();
    };
    #[allow(clippy::cast_possible_truncation)]
    let whole = s.round() as i64;
    if whole < 60 {
        format!("{s:.1} s")
    } else if whole < 3600 {
        format!("{}m {:02}s", whole / 60, whole % 60)
    } else if whole < 86_400 {
        format!("{}h {:02}m", whole / 3600, (whole % 3600) / 60)
    } else {
        format!("{:.1} days", s / 86_400.0)
    }
}

pub fn fmt_count(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A heat-map colour for `share` in [0, 1], readable in light and dark themes.
pub fn heat_color(share: f64, dark: bool) -> Color32 {
    let t = share.clamp(0.0, 1.0);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    if dark {
        Color32::from_rgb(mix(30.0, 20.0), mix(40.0, 120.0), mix(55.0, 200.0))
    } else {
        Color32::from_rgb(mix(245.0, 40.0), mix(248.0, 120.0), mix(255.0, 215.0))
    }
}

/// The text colour that stays readable on `heat_color(share)`.
pub fn heat_text_color(share: f64, dark: bool) -> Color32 {
    if dark || share > 0.55 {
        Color32::WHITE
    } else {
        Color32::from_gray(20)
    }
}

/// A text-less checkbox for a table row, named for screen readers and UI tests.
pub fn row_checkbox_ui(ui: &mut Ui, checked: &mut bool, name: &str) -> egui::Response {
    let response = ui.add(egui::Checkbox::without_text(checked));
    let (enabled, selected, label) = (response.enabled(), *checked, format!("Plot {name}"));
    response.widget_info(move || {
        egui::WidgetInfo::selected(
            egui::accesskit::Role::CheckBox,
            enabled,
            selected,
            label.clone(),
        )
    });
    response
}

/// A placeholder while the first result of a view is computed.
pub fn waiting_ui(ui: &mut Ui) {
    ui.horizontal(|ui| {
        busy_ui(ui);
        ui.label("Computing…");
    });
}

/// Tells the busy indicators whether frames are drawn without a GPU (see `busy_ui`).
pub fn set_software_rendering(ctx: &egui::Context, software: bool) {
    let steps_per_second: f64 = if software { 1.0 } else { 8.0 };
    ctx.data_mut(|d| d.insert_temp(busy_steps_id(), steps_per_second));
}

fn busy_steps_id() -> egui::Id {
    egui::Id::unique("busy indicator steps per second")
}

/// A busy indicator that moves a few times a second. egui's spinner asks for the next
/// frame at once, every frame. Without a GPU (a virtual machine, a remote desktop) a
/// frame costs tens of milliseconds of the very cores the awaited load or query needs,
/// so there the indicator moves once a second; input still redraws at once.
pub fn busy_ui(ui: &mut Ui) -> egui::Response {
    const DOTS: usize = 8;
    let steps_per_second = ui
        .ctx()
        .data(|d| d.get_temp::<f64>(busy_steps_id()))
        .unwrap_or(8.0);

    let size = ui.style().spacing.interact_size.y;
    let (rect, response) = ui.allocate_exact_size(egui::vec2(size, size), egui::Sense::hover());
    response.widget_info(|| egui::WidgetInfo::new(egui::Role::ProgressIndicator));
    if !ui.is_rect_visible(rect) {
        return response;
    }

    // One dot of the ring is lit, and the light moves on one dot per step.
    let steps = ui.input(|i| i.time) * steps_per_second;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // time >= 0
    let lit = steps as usize % DOTS;
    let (strong, weak) = (
        ui.visuals().strong_text_color(),
        ui.visuals().weak_text_color(),
    );
    for dot in 0..DOTS {
        #[allow(clippy::cast_precision_loss)] // a handful of dots
        let angle = dot as f32 / DOTS as f32 * std::f32::consts::TAU;
        let center = rect.center() + size * 0.35 * egui::vec2(angle.cos(), angle.sin());
        let (radius, color) = if dot == lit {
            (2.6, strong)
        } else {
            (1.8, weak)
        };
        ui.painter().circle_filled(center, radius, color);
    }
    let until_next_step = (steps.floor() + 1.0 - steps) / steps_per_second;
    ui.ctx()
        .request_repaint_after(std::time::Duration::from_secs_f64(
            until_next_step.max(0.01),
        ));
    response
}

/// In place of a plot with nothing in it (whose axes egui_plot would span over -4..4): a
/// line that says why, in the plot's height.
pub fn nothing_to_plot_ui(ui: &mut Ui, height: f32, why: &str) {
    ui.allocate_ui(egui::vec2(ui.available_width(), height), |ui| {
        ui.centered_and_justified(|ui| {
            ui.weak(why);
        });
    });
}

/// A headline number with its caption.
pub fn stat_ui(ui: &mut Ui, caption: &str, value: &str, hover: &str) {
    ui.vertical(|ui| {
        ui.add(egui::Label::new(RichText::new(caption).small().weak()).extend());
        ui.add(egui::Label::new(RichText::new(value).heading().strong()).extend())
            .on_hover_text(hover);
    });
}

/// A plot with this app's axes: room for six-digit labels, and a label on every grid line
/// with room for one. egui_plot fades out labels closer than 30 points, which on a range
/// such as 0-85,000 (lines every 10,000, 24 points apart) leaves only the 0.
pub fn chart<'a>(id: impl egui::AsIdSalt) -> egui_plot::Plot<'a> {
    egui_plot::Plot::new(id)
        .custom_y_axes(vec![egui_plot::AxisHints::new_y()
            .min_thickness(56.0)
            .label_spacing(egui::Rangef::new(14.0, 18.0))])
        .grid_spacing(egui::Rangef::new(16.0, 120.0))
}
