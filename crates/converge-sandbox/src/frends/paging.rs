//! Frends list paging: `PageNumber` (default 1) and `PageSize` (default 30, at most 200), and the
//! `paging` object with links to the other pages.
//!
//! Parameter names bind case-insensitively and with the `pagingQuery.` prefix, as ASP.NET model
//! binding does (`pagingQuery.pageNumber` is the spelling some Frends versions document). A page
//! size above 200 is clamped to 200 (the docs call 200 the maximum, not an error); a page number
//! or size below 1, or one that is not an integer, is a 400.

use serde::Serialize;

use super::problem::Problem;

pub const DEFAULT_PAGE_SIZE: i32 = 30;
pub const MAX_PAGE_SIZE: i32 = 200;

/// The page a list request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    pub number: i32,
    pub size: i32,
}

impl Page {
    pub fn from_query(pairs: &[(String, String)]) -> Result<Page, Problem> {
        let mut page = Page {
            number: 1,
            size: DEFAULT_PAGE_SIZE,
        };
        for (key, value) in pairs {
            let name = key.rsplit('.').next().unwrap_or(key).to_ascii_lowercase();
            let (field, target) = match name.as_str() {
                "pagenumber" => ("PageNumber", &mut page.number),
                "pagesize" => ("PageSize", &mut page.size),
                _ => continue,
            };
            let n: i32 = value.trim().parse().map_err(|_| {
                Problem::invalid(
                    field,
                    format!("The value '{value}' is not valid for {field}."),
                )
            })?;
            if n < 1 {
                return Err(Problem::invalid(
                    field,
                    format!("{field} must be greater than 0."),
                ));
            }
            *target = n;
        }
        page.size = page.size.min(MAX_PAGE_SIZE);
        Ok(page)
    }

    /// The items of this page out of `items`, and the `paging` object. `base` is the list's
    /// absolute URL without a query.
    pub fn slice<T>(self, items: Vec<T>, base: &str) -> (Vec<T>, Paging) {
        let total = items.len() as i64;
        let size = self.size as i64;
        let last = ((total + size - 1) / size).max(1);
        let number = self.number as i64;
        let link = |n: i64| format!("{base}?PageNumber={n}&PageSize={size}");
        let page: Vec<T> = items
            .into_iter()
            .skip(((number - 1) * size) as usize)
            .take(size as usize)
            .collect();
        let paging = Paging {
            current_page: self.number,
            page_size: self.size,
            total_count: total,
            first_page: link(1),
            last_page: link(last),
            next_page: (number < last).then(|| link(number + 1)),
            previous_page: (number > 1).then(|| link((number - 1).min(last))),
        };
        (page, paging)
    }
}

/// The `paging` object of a list response.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Paging {
    pub current_page: i32,
    pub page_size: i32,
    pub total_count: i64,
    pub first_page: String,
    pub last_page: String,
    pub next_page: Option<String>,
    pub previous_page: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn names_bind_like_aspnet_and_size_is_clamped() {
        let p =
            Page::from_query(&q(&[("pagingQuery.pageNumber", "3"), ("pagesize", "500")])).unwrap();
        assert_eq!(
            p,
            Page {
                number: 3,
                size: 200
            }
        );
        assert!(Page::from_query(&q(&[("PageNumber", "0")])).is_err());
        assert!(Page::from_query(&q(&[("PageSize", "x")])).is_err());
    }

    #[test]
    fn links_stop_at_the_ends() {
        let page = Page { number: 2, size: 2 };
        let (items, paging) = page.slice(vec![1, 2, 3, 4, 5], "http://h/l");
        assert_eq!(items, vec![3, 4]);
        assert_eq!(paging.last_page, "http://h/l?PageNumber=3&PageSize=2");
        assert_eq!(
            paging.next_page.as_deref(),
            Some("http://h/l?PageNumber=3&PageSize=2")
        );
        assert_eq!(
            paging.previous_page.as_deref(),
            Some("http://h/l?PageNumber=1&PageSize=2")
        );
        let (_, paging) = Page {
            number: 1,
            size: 30,
        }
        .slice(Vec::<i32>::new(), "http://h/l");
        assert_eq!((paging.next_page, paging.previous_page), (None, None));
    }
}
