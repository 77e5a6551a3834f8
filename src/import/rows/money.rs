//! The money on rows: spend files, exchange rates, and Adjust's cost columns on activity
//! rows; dates and numbers as those files write them.

use chrono::NaiveDate;
use csv::StringRecord;

use super::{Row, RowReader, CAMPAIGN_ID_PREFIX};
use crate::import::mapping::Field;
use crate::model::{RateRow, SpendRow};

impl RowReader {
    /// Adjust's cost columns on an activity row, as a spend row dated in the file's zone.
    pub(super) fn cost(
        &mut self,
        fields: &StringRecord,
        time_ms: i64,
    ) -> Result<Option<SpendRow>, (&'static str, String)> {
        let Some((amount_column, currency_column)) = self.rules.cost else {
            return Ok(None);
        };
        let amount_text = fields.get(amount_column).map_or("", |v| v.trim());
        if amount_text.is_empty() {
            return Ok(None);
        }
        let amount = self.parse_number(amount_text, "cost_amount")?;
        if amount == 0.0 {
            return Ok(None);
        }
        let currency = currency_column
            .and_then(|i| fields.get(i))
            .map(|c| c.trim().to_ascii_uppercase())
            .filter(|c| !c.is_empty());
        let attrs = self.attributes(fields);
        Ok(Some(SpendRow {
            date: crate::time::local_date(time_ms, self.tz),
            channel: attrs.channel,
            campaign: attrs.campaign,
            amount,
            currency,
            impressions: None,
            clicks: None,
        }))
    }

    pub(super) fn spend(&self, fields: &StringRecord) -> Result<Row, (&'static str, String)> {
        let date = self.date(fields)?;
        let amount = self
            .number(fields, Field::Amount)?
            .ok_or(("missing amount", String::new()))?;
        let amount = if self.rules.amount_in_cents {
            amount / 100.0
        } else {
            amount
        };
        let currency = match &self.rules.header_currency {
            Some(code) => code.as_str(),
            None => self.text(fields, Field::Currency),
        };
        let mut campaign = self.text(fields, Field::Campaign).to_owned();
        if self.rules.campaign_ids && !campaign.is_empty() {
            campaign = format!("{CAMPAIGN_ID_PREFIX}{campaign}");
        }
        let count = |field| -> Result<Option<i64>, (&'static str, String)> {
            #[allow(clippy::cast_possible_truncation)] // counts are far below 2^53
            Ok(self.number(fields, field)?.map(|v| v.round() as i64))
        };
        Ok(Row::Spend(SpendRow {
            date,
            channel: self.text(fields, Field::Channel).to_owned(),
            campaign,
            amount,
            currency: (!currency.is_empty()).then(|| currency.to_ascii_uppercase()),
            impressions: count(Field::Impressions)?,
            clicks: count(Field::Clicks)?,
        }))
    }

    pub(super) fn rate(&self, fields: &StringRecord) -> Result<Row, (&'static str, String)> {
        let date = self.date(fields)?;
        let currency = self.text(fields, Field::Currency);
        if currency.is_empty() {
            return Err(("missing currency", String::new()));
        }
        let rate = self
            .number(fields, Field::Rate)?
            .ok_or(("missing rate", String::new()))?;
        if rate <= 0.0 {
            return Err(("bad number", format!("rate {rate} is not positive")));
        }
        Ok(Row::Rate(RateRow {
            date,
            currency: currency.to_ascii_uppercase(),
            rate,
        }))
    }

    /// A calendar date as given: `YYYY-MM-DD`, optionally followed by a time.
    pub(super) fn date(&self, fields: &StringRecord) -> Result<NaiveDate, (&'static str, String)> {
        let value = self.text(fields, Field::Date);
        if value.is_empty() {
            return Err(("missing date", String::new()));
        }
        let head = value.get(..10).unwrap_or(value);
        let rest = value.get(10..).unwrap_or("");
        NaiveDate::parse_from_str(head, "%Y-%m-%d")
            .ok()
            .filter(|_| rest.is_empty() || rest.starts_with([' ', 'T']))
            .ok_or_else(|| {
                (
                    "bad date",
                    format!("{} is not a YYYY-MM-DD date", crate::import::shorten(value)),
                )
            })
    }

    pub(super) fn number(
        &self,
        fields: &StringRecord,
        field: Field,
    ) -> Result<Option<f64>, (&'static str, String)> {
        let value = self.text(fields, field);
        if value.is_empty() {
            return Ok(None);
        }
        self.parse_number(value, field.name()).map(Some)
    }

    /// A finite number; with a decimal comma, `1.234,56` and `1 234,56` are 1234.56.
    pub(super) fn parse_number(
        &self,
        value: &str,
        what: &str,
    ) -> Result<f64, (&'static str, String)> {
        let normalized;
        let text = if self.decimal_comma {
            normalized = value
                .chars()
                .filter(|c| !matches!(c, '.' | ' ' | '\u{a0}' | '\''))
                .map(|c| if c == ',' { '.' } else { c })
                .collect::<String>();
            normalized.as_str()
        } else {
            value
        };
        text.parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| {
                (
                    "bad number",
                    format!("{what} {} is not a number", crate::import::shorten(value)),
                )
            })
    }
}
