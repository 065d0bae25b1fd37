//! The `calculator` tool's expression evaluator (tools.md §7): numeric literals with
//! `+ - * / // % **`, unary `+ -` and parentheses. A real parser, never an `eval`.

/// Evaluates `text`; `Err` carries the reason shown as `Error: {reason}`.
pub fn evaluate(text: &str) -> Result<f64, String> {
    let tokens = tokenize(text)?;
    if tokens.is_empty() {
        return Err("empty expression".into());
    }
    let mut p = Parser {
        tokens,
        pos: 0,
        depth: 0,
    };
    let v = p.expr()?;
    if p.pos != p.tokens.len() {
        return Err(format!("unexpected '{}'", p.tokens[p.pos].text()));
    }
    if !v.is_finite() {
        return Err("result is not a finite number".into());
    }
    Ok(v)
}

/// Python-like text of a result: integers without a fraction.
pub fn format(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Op(&'static str),
    LParen,
    RParen,
}

impl Tok {
    fn text(&self) -> String {
        match self {
            Tok::Num(n) => n.to_string(),
            Tok::Op(o) => o.to_string(),
            Tok::LParen => "(".into(),
            Tok::RParen => ")".into(),
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = vec![];
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' => i += 1,
            '0'..='9' | '.' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_digit() || chars[i] == '.' || chars[i] == '_')
                {
                    i += 1;
                }
                if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                    i += 1;
                    if i < chars.len() && (chars[i] == '+' || chars[i] == '-') {
                        i += 1;
                    }
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                }
                let lit: String = chars[start..i].iter().filter(|c| **c != '_').collect();
                out.push(Tok::Num(
                    lit.parse().map_err(|_| format!("invalid number '{lit}'"))?,
                ));
            }
            '*' if chars.get(i + 1) == Some(&'*') => {
                out.push(Tok::Op("**"));
                i += 2;
            }
            '/' if chars.get(i + 1) == Some(&'/') => {
                out.push(Tok::Op("//"));
                i += 2;
            }
            '+' => (out.push(Tok::Op("+")), i += 1).1,
            '-' => (out.push(Tok::Op("-")), i += 1).1,
            '*' => (out.push(Tok::Op("*")), i += 1).1,
            '/' => (out.push(Tok::Op("/")), i += 1).1,
            '%' => (out.push(Tok::Op("%")), i += 1).1,
            '(' => (out.push(Tok::LParen), i += 1).1,
            ')' => (out.push(Tok::RParen), i += 1).1,
            other => return Err(format!("unsupported character '{other}'")),
        }
        if out.len() > 10_000 {
            return Err("expression too long".into());
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Tok>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek_op(&self) -> Option<&'static str> {
        match self.tokens.get(self.pos) {
            Some(Tok::Op(o)) => Some(o),
            _ => None,
        }
    }

    // expr := term (('+'|'-') term)*
    fn expr(&mut self) -> Result<f64, String> {
        let mut v = self.term()?;
        while let Some(op @ ("+" | "-")) = self.peek_op() {
            self.pos += 1;
            let r = self.term()?;
            v = if op == "+" { v + r } else { v - r };
        }
        Ok(v)
    }

    // term := unary (('*'|'/'|'//'|'%') unary)*
    fn term(&mut self) -> Result<f64, String> {
        let mut v = self.unary()?;
        while let Some(op @ ("*" | "/" | "//" | "%")) = self.peek_op() {
            self.pos += 1;
            let r = self.unary()?;
            if r == 0.0 && op != "*" {
                return Err("division by zero".into());
            }
            v = match op {
                "*" => v * r,
                "/" => v / r,
                "//" => (v / r).floor(),
                _ => v - r * (v / r).floor(), // Python's modulo takes the divisor's sign
            };
        }
        Ok(v)
    }

    // unary := ('+'|'-') unary | power
    fn unary(&mut self) -> Result<f64, String> {
        match self.peek_op() {
            Some("-") => {
                self.pos += 1;
                Ok(-self.unary()?)
            }
            Some("+") => {
                self.pos += 1;
                self.unary()
            }
            _ => self.power(),
        }
    }

    // power := atom ('**' unary)?   (right-associative, binds tighter than unary on its left)
    fn power(&mut self) -> Result<f64, String> {
        let base = self.atom()?;
        if self.peek_op() == Some("**") {
            self.pos += 1;
            let exp = self.unary()?;
            return Ok(base.powf(exp));
        }
        Ok(base)
    }

    fn atom(&mut self) -> Result<f64, String> {
        match self.tokens.get(self.pos).cloned() {
            Some(Tok::Num(n)) => {
                self.pos += 1;
                Ok(n)
            }
            Some(Tok::LParen) => {
                self.depth += 1;
                if self.depth > 200 {
                    return Err("expression nested too deeply".into());
                }
                self.pos += 1;
                let v = self.expr()?;
                if self.tokens.get(self.pos) != Some(&Tok::RParen) {
                    return Err("missing ')'".into());
                }
                self.pos += 1;
                self.depth -= 1;
                Ok(v)
            }
            Some(t) => Err(format!("unexpected '{}'", t.text())),
            None => Err("unexpected end of expression".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_like_python() {
        let cases = [
            ("2+2", "4"),
            ("2 + 3 * 4", "14"),
            ("(2 + 3) * 4", "20"),
            ("7 // 2", "3"),
            ("-7 // 2", "-4"),
            ("-7 % 3", "2"),
            ("2 ** 3 ** 2", "512"),
            ("-2 ** 2", "-4"),
            ("10 / 4", "2.5"),
            ("1_000 * 3", "3000"),
            ("1e3 + 1", "1001"),
        ];
        for (expr, want) in cases {
            assert_eq!(evaluate(expr).map(format), Ok(want.to_string()), "{expr}");
        }
    }

    #[test]
    fn refuses_everything_else() {
        assert!(evaluate("__import__('os')").is_err());
        assert!(evaluate("1/0").is_err());
        assert!(evaluate("2 +").is_err());
        assert!(evaluate("(1").is_err());
        assert!(evaluate("").is_err());
        assert!(evaluate(&"(".repeat(500)).is_err());
        assert!(evaluate("10 ** 400").is_err());
    }
}
