//! The operator's charts, drawn server-side as SVG by `plotters` (SVG backend only, no fonts: text is left to
//! the browser), embedded in the page: no script, no image request.

use plotters::prelude::*;
use store::admin::{DailyActivity, MonthlyShops};

use crate::web::i18n::Lang;

/// The drawing's own size; the page scales it to the width available (it has a `viewBox`).
const SIZE: (u32, u32) = (420, 250);
const FONT: &str = "sans-serif";
const GREEN: RGBColor = RGBColor(11, 107, 79);
const ORANGE: RGBColor = RGBColor(194, 65, 12);
const BLUE: RGBColor = RGBColor(30, 58, 138);
const GREY: RGBColor = RGBColor(102, 102, 102);

fn chart_error(e: impl std::fmt::Display) -> crate::Error {
    crate::Error::Internal(anyhow::anyhow!("chart drawing failed: {e}"))
}

/// A round upper bound for a count axis (at least 4, so small numbers still get integer ticks).
fn ceiling(max: i64) -> i64 {
    let max = max.max(4);
    let step = 10_i64.pow(max.ilog10().saturating_sub(1));
    (max / step + 1) * step
}

/// New shops and churned shops per month, as grouped bars.
pub fn monthly_shops(lang: Lang, months: &[MonthlyShops]) -> crate::Result<String> {
    let labels: Vec<String> = months
        .iter()
        .map(|m| {
            lang.t(&format!("month.{}", m.month.format("%m")))
                .into_owned()
        })
        .collect();
    let top = ceiling(
        months
            .iter()
            .map(|m| m.new_shops.max(m.churned_shops))
            .max()
            .unwrap_or(0),
    );
    // Three slots a month: new shops, churned shops, a gap.
    let slots = i64::try_from(months.len()).unwrap_or(0) * 3;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(8)
            .x_label_area_size(26)
            .y_label_area_size(34)
            .build_cartesian_2d((0..slots).into_segmented(), 0..top)
            .map_err(chart_error)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(230, 230, 230))
            .x_labels(usize::try_from(slots).unwrap_or(0))
            .x_label_formatter(&|slot| match slot {
                // Every other month (the current one included), under its first bar: the chart stays
                // readable on a phone.
                SegmentValue::CenterOf(s) if s % 3 == 0 && (slots / 3 - 1 - s / 3) % 2 == 0 => {
                    usize::try_from(s / 3)
                        .ok()
                        .and_then(|i| labels.get(i))
                        .cloned()
                        .unwrap_or_default()
                }
                _ => String::new(),
            })
            .y_labels(5)
            .y_label_formatter(&|v| v.to_string())
            .label_style((FONT, 16).into_font().color(&GREY))
            .axis_style(GREY)
            .draw()
            .map_err(chart_error)?;
        let new_shops = months
            .iter()
            .enumerate()
            .map(|(i, m)| (i64::try_from(i).unwrap_or(0) * 3, m.new_shops));
        chart
            .draw_series(
                Histogram::vertical(&chart)
                    .style(GREEN.filled())
                    .margin(1)
                    .data(new_shops),
            )
            .map_err(chart_error)?
            .label(lang.t("admin.chart.new_shops"))
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], GREEN.filled()));
        let churned = months
            .iter()
            .enumerate()
            .map(|(i, m)| (i64::try_from(i).unwrap_or(0) * 3 + 1, m.churned_shops));
        chart
            .draw_series(
                Histogram::vertical(&chart)
                    .style(ORANGE.filled())
                    .margin(1)
                    .data(churned),
            )
            .map_err(chart_error)?
            .label(lang.t("admin.chart.churned_shops"))
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], ORANGE.filled()));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(220, 220, 220))
            .label_font((FONT, 16))
            .draw()
            .map_err(chart_error)?;
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

/// One daily count (customer messages, or orders) over the last days, as a line with dots.
pub fn daily(
    lang: Lang,
    days: &[DailyActivity],
    value: fn(&DailyActivity) -> i64,
    blue: bool,
) -> crate::Result<String> {
    let labels: Vec<String> = days
        .iter()
        .map(|d| {
            let month = lang.t(&format!("month.{}", d.day.format("%m")));
            format!("{} {month}", d.day.format("%-d"))
        })
        .collect();
    let last = i64::try_from(days.len())
        .unwrap_or(1)
        .saturating_sub(1)
        .max(1);
    let top = ceiling(days.iter().map(value).max().unwrap_or(0));
    let color = if blue { BLUE } else { GREEN };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(8)
            .margin_right(24)
            .x_label_area_size(26)
            .y_label_area_size(34)
            .build_cartesian_2d(0..last, 0..top)
            .map_err(chart_error)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(230, 230, 230))
            .x_labels(4)
            .x_label_formatter(&|i| {
                usize::try_from(*i)
                    .ok()
                    .and_then(|i| labels.get(i))
                    .cloned()
                    .unwrap_or_default()
            })
            .y_labels(5)
            .y_label_formatter(&|v| v.to_string())
            .label_style((FONT, 16).into_font().color(&GREY))
            .axis_style(GREY)
            .draw()
            .map_err(chart_error)?;
        let points: Vec<(i64, i64)> = days
            .iter()
            .enumerate()
            .map(|(i, d)| (i64::try_from(i).unwrap_or(0), value(d)))
            .collect();
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                color.stroke_width(2),
            ))
            .map_err(chart_error)?;
        chart
            .draw_series(
                points
                    .iter()
                    .map(|&(x, y)| Circle::new((x, y), 2, color.filled())),
            )
            .map_err(chart_error)?;
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn months() -> Vec<MonthlyShops> {
        (1..=12)
            .map(|m| MonthlyShops {
                month: NaiveDate::from_ymd_opt(2026, m, 1).expect("date"),
                new_shops: i64::from(m),
                churned_shops: i64::from(m % 3),
            })
            .collect()
    }

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(ceiling(0), 5);
        assert_eq!(ceiling(7), 8);
        assert_eq!(ceiling(42), 43);
        assert_eq!(ceiling(1234), 1300);
    }

    #[test]
    fn the_monthly_chart_is_an_svg_with_its_month_labels_and_legend() {
        let svg = monthly_shops(Lang::Fr, &months()).expect("chart");
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(
            svg.contains("viewBox=\"0 0 420 250\""),
            "scales to the page"
        );
        for label in ["févr.", "déc.", "Nouvelles boutiques", "Désabonnements"] {
            assert!(svg.contains(label), "{label} in the chart");
        }
        assert!(svg.len() < 20_000, "light: {} bytes", svg.len());
    }

    #[test]
    fn the_daily_chart_draws_one_point_a_day() {
        let days: Vec<DailyActivity> = (1..=30)
            .map(|d| DailyActivity {
                day: NaiveDate::from_ymd_opt(2026, 4, d).expect("date"),
                messages: i64::from(d) * 10,
                orders: i64::from(d % 4),
            })
            .collect();
        let svg = daily(Lang::Fr, &days, |d| d.messages, false).expect("chart");
        assert_eq!(svg.matches("<circle").count(), 30, "{svg}");
        assert!(svg.contains("avr."));
        assert!(svg.len() < 20_000, "light: {} bytes", svg.len());
    }
}
