//! Password strength: zxcvbn's estimate of how many guesses a password takes, knowing the words a guesser
//! would try first here (French and Ivorian favourites, the product's and the shop's own names).

use zxcvbn::Score;

/// At least ~10^8 guesses: out of reach of online guessing under the login limits, and of the lists of
/// leaked passwords (`12345678`, `azerty123`, `jetaime2024`…).
const MIN_SCORE: Score = Score::Three;

/// Words zxcvbn's English dictionaries do not know but every guesser here tries.
const LOCAL_WORDS: [&str; 24] = [
    "motdepasse",
    "azerty",
    "azertyuiop",
    "bonjour",
    "jetaime",
    "soleil",
    "doudou",
    "chouchou",
    "abidjan",
    "cocody",
    "yopougon",
    "marcory",
    "treichville",
    "plateau",
    "bouake",
    "yamoussoukro",
    "cotedivoire",
    "ivoire",
    "ivoirien",
    "tdjaasa",
    "boutique",
    "orange",
    "wave",
    "whatsapp",
];

/// Why `password` is too easy to guess, in French; `None` when it is strong enough. `context` holds what the
/// account itself gives away (e-mail, shop name): split into words and tried first.
pub fn weakness(password: &str, context: &[&str]) -> Option<&'static str> {
    let mut inputs: Vec<String> = LOCAL_WORDS.iter().map(|w| (*w).to_owned()).collect();
    for text in context {
        let text = text.split('@').next().unwrap_or(text);
        inputs.push(text.to_lowercase());
        inputs.extend(
            text.to_lowercase()
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| w.chars().count() >= 3)
                .map(str::to_owned),
        );
    }
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    (zxcvbn::zxcvbn(password, &inputs).score() < MIN_SCORE).then_some(
        "Ce mot de passe est trop facile à deviner. Choisissez plusieurs mots sans rapport \
         (par exemple « garba-piment-lagune ») et évitez les suites, les dates et le nom de la boutique.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_and_leaked_style_passwords_are_refused() {
        for weak in [
            "12345678",
            "password123",
            "azertyuiop",
            "motdepasse1",
            "jetaime123",
            "Abidjan2024",
            "bonjour2025",
            "aaaaaaaaaa",
        ] {
            assert!(weakness(weak, &[]).is_some(), "{weak} should be refused");
        }
    }

    #[test]
    fn the_shop_s_own_name_and_e_mail_do_not_make_a_password() {
        assert!(weakness("Marcory225", &["Boutique Marcory", "awa@marcory.ci"]).is_some());
        assert!(weakness("awa.kone2024", &["awa.kone@gmail.com"]).is_some());
    }

    #[test]
    fn passphrases_and_long_random_strings_are_accepted() {
        for strong in ["garba-et-alloco", "motdepasse-solide", "Kx7#pQ2!vL9m"] {
            assert_eq!(weakness(strong, &["Boutique Marcory"]), None, "{strong}");
        }
    }
}
