/* Context of each finding: negation, uncertainty, hypothetical, historical, a relative's.
 *
 * The method is NegEx (Chapman et al. 2001, "A simple algorithm for identifying negated
 * findings and diseases in discharge summaries") extended as in ConText (Harkema et al.
 * 2009) with hypothetical, historical and experiencer (family) triggers:
 *   - trigger phrases are found among tokens that no synonym claimed (so "can't breathe"
 *     is a finding, not a negation of "breathe");
 *   - pseudo-triggers ("not only", "no change", "can't stop") are consumed first and
 *     trigger nothing;
 *   - a pre-trigger's scope runs forward to the end of the clause or a terminator
 *     ("but", "however", "except", a new subject such as ", I ..." or "and my ..."),
 *     at most SCOPE_TOKENS tokens; a post-trigger ("... has gone", "fever: no") looks
 *     back at the finding just before it;
 *   - historical and family scopes cover the clause around the trigger.
 * A relative's *current* symptoms ("my husband is clutching his chest") stay current:
 * the person typing is reporting for the patient, and missing that emergency would be
 * the worse error. Family context needs a past or history marker ("had", "died of",
 * "history of") or an observation that is itself a history or risk factor.
 */
#include <string.h>

#include "clinical/internal.h"

#define SCOPE_TOKENS 8

typedef struct phrase_set {
    const char *const *phrases; /* space-separated token norms */
    size_t n;
    int lex;                    /* lexicon bit of the list (LEX_<list>) */
} phrase_set;

#define SET(arr) ((phrase_set){(arr), MD_ARRAY_LEN(arr), LEX_##arr})

static const char *const k_pseudo[] = {
    "not only", "not just", "no increase", "no change", "no doubt", "not necessarily", "without a doubt",
    "not improving", "not getting better", "not going away", "not go away", "wont go away", "doesnt go away",
    "isnt going away", "not stopping", "not stop", "wont stop", "doesnt stop", "cant stop", "didnt stop",
    "no relief", "not helping", "not help", "doesnt help", "didnt help", "not working", "doesnt work",
    "didnt work", "not better", "no better", "not much better", "no matter", "nothing helps",
    "nothing works", "not relieved", "not been able", "not able", "no way", "not easing", "no sooner",
    "not settling", "hasnt settled", "not gone", "hasnt gone", "havent gone", "not went",
    "no idea why", "not worse",
};

static const char *const k_uncertain[] = {
    "not sure if", "not sure whether", "not sure", "unsure if", "unsure whether", "unsure",
    "dont know if", "dont know whether", "not certain", "cant tell if", "cant tell whether",
};

static const char *const k_pre_negation[] = {
    "no", "not", "never", "without", "denies", "deny", "denied", "denying", "negative for",
    "free of", "absence of", "nor", "neither", "dont have", "dont get", "dont feel", "dont",
    "doesnt", "didnt", "havent", "hasnt", "hadnt", "isnt", "arent", "wasnt", "werent",
    "no sign of", "no signs of", "no evidence of", "none", "zero", "nothing like", "no longer",
    "not any", "no more", "nope", "nobody", "no one", "noone", "none of us", "not one",
};

/* "temperature normal", "breathing is fine": a normal finding, after it. */
static const char *const k_post_normal[] = {"normal", "fine", "ok", "okay", "good", "unremarkable", "settled"};
static const char *const k_normal_glue[] = {"is", "was", "are", "seems", "been", "all", "completely", "totally",
                                           "perfectly", "looks", "looked", "feels", "has", "have"};
/* Looked for right after a finding (allowing ':' '?' ',' between), then a break. */
static const char *const k_post_negation_tight[] = {"no", "none", "nope", "negative", "denied", "denies", "absent", "nil"};
static const char *const k_resolution_adverbs[] = {"now", "completely", "totally", "already", "thankfully",
                                                   "entirely", "fully", "overnight", "since", "today"};
/* Looked for within a few tokens after a finding in the same clause. */
static const char *const k_post_negation[] = {
    "has gone", "have gone", "is gone", "are gone", "went away", "gone away", "has resolved",
    "resolved", "cleared up", "has cleared", "has settled", "settled down", "has stopped",
    "stopped", "has passed", "is better now", "all gone", "no longer", "not anymore",
    "not there anymore", "not any more",
};

static const char *const k_hypothetical[] = {
    "if", "what if", "in case", "whether", "might get", "may get", "could get", "might develop",
    "may develop", "ever get", "ever have", "risk of", "chance of", "chances of", "prevent",
    "preventing", "avoid", "worried i might", "worried i may", "worried i could", "worried that i might",
    "afraid i might", "afraid i may", "scared i might", "scared i may", "in future", "in the future",
    "one day", "someday", "what are the signs", "what are the symptoms", "what are signs",
    "what are symptoms", "signs to look out for", "how do i know if", "how would i know",
    "what to do if", "what should i do if", "tell me about", "information about", "info on",
    "what does", "what do", "how do i check", "how do i tell", "how can i tell", "how can i check",
    "could i have", "could i get", "can i get", "can you get", "would i have", "should i be worried about",
    "am i at risk", "how common is", "is it possible to get", "what causes",
};

static const char *const k_historical[] = {
    "history of", "hx of", "past history", "previous", "previously", "used to", "used to have",
    "in the past", "as a child", "as a kid", "as a teenager", "as a baby", "when i was",
    "last year", "years ago", "year ago", "months ago", "month ago", "decades ago", "decade ago",
    "long time ago", "long ago", "ages ago", "none since", "nothing since", "not since",
    "in childhood", "childhood", "years back", "past medical history", "pmh", "pmhx",
    "in my twenties", "in my thirties", "in my forties", "in my fifties", "in my sixties", "in my teens",
    "in my youth", "when younger", "when i was younger", "as a teen", "as a youngster", "back then",
};

/* Words that show an "... ago" clause is about a current, ongoing problem. */
static const char *const k_ongoing[] = {"started", "start", "began", "begun", "since", "for", "ongoing",
                                       "still", "every", "keeps", "continuing", "worse", "worsening"};

static const char *const k_relatives_family[] = {
    "father", "dad", "daddy", "mother", "mom", "mum", "mommy", "mummy", "brother", "sister", "sibling",
    "siblings", "grandmother", "grandfather", "grandma", "grandpa", "granny", "gran", "nan", "nana",
    "aunt", "auntie", "uncle", "cousin", "parents", "parent", "family", "relatives", "grandparents",
    "grandparent", "relative", "niece", "nephew", "twin", "grandad", "granddad", "gramps", "grandmom",
    "grandmum", "stepfather", "stepmother", "stepdad", "stepmum", "stepmom", "brothers", "sisters",
};
/* People the writer may be reporting for: their present symptoms are the patient's. */
static const char *const k_relatives_proxy[] = {
    "husband", "wife", "partner", "boyfriend", "girlfriend", "friend", "colleague", "neighbour",
    "neighbor", "flatmate", "roommate", "son", "daughter", "baby", "child", "kid", "toddler", "boy",
    "girl", "infant", "newborn", "teenager", "spouse", "fiance", "fiancee",
};
static const char *const k_past_markers[] = {"had", "died", "passed", "history", "suffered", "diagnosed",
                                            "runs", "run", "hx", "previously", "killed", "death"};
/* "had" is weak: "my dad just had a stroke" is happening now. */
static const char *const k_strong_past[] = {"died", "passed", "history", "suffered", "diagnosed", "runs", "run",
                                           "hx", "previously", "killed", "death", "ago", "childhood"};
/* Words that put a relative's event in the present: the writer is reporting for them. */
static const char *const k_acute_markers[] = {"fell", "fallen", "collapsed", "just", "now", "today", "tonight",
                                             "currently", "suddenly", "keeps", "having", "cant", "wont",
                                             "morning", "yesterday", "hour", "hours", "minutes"};

/* Words that make what follows "when" a trigger: "worse when I cough". */
static const char *const k_aggravation[] = {"worse", "hurts", "hurt", "painful", "pain", "sore", "better", "eases",
                                           "relieved", "aches", "tender", "twinges", "stings", "burns"};

static const char *const k_in_family[] = {"in the family", "in my family", "in our family"};

static const char *const k_terminators[] = {
    "but", "however", "although", "though", "except", "apart", "aside", "yet", "whereas", "while",
    "instead", "now", "currently", "which", "today", "otherwise", "besides", "nevertheless",
};
/* After "and" or ",", one of these starts a new clause about something else. */
static const char *const k_new_subject[] = {
    "i", "im", "ive", "id", "my", "he", "she", "it", "its", "there", "have", "has", "got", "getting",
    "having", "feel", "feeling", "now", "but", "am", "was", "they", "we", "just", "only", "mainly",
    "mostly", "also", "except", "apart", "though", "although",
};

static bool in_set(const char *w, const char *const *list, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(w, list[i]) == 0) return true;
    return false;
}
/* Membership of a token's word in a list; the lexicon bit rules most tokens out with
 * one test, so the string comparisons run only for candidates. */
static bool tok_in(const tok *t, const char *const *list, size_t n, int bit) {
    return (t->lex >> bit & 1u) && in_set(t->norm, list, n);
}
#define TIN(tp, arr) tok_in((tp), (arr), MD_ARRAY_LEN(arr), LEX_##arr)

/* Length in tokens of the phrase from `set` that starts at token i among unclaimed
 * word tokens; 0 when none. Longest wins. */
static size_t phrase_at(const tok_list *t, size_t i, phrase_set set) {
    if (i >= t->n || !(t->items[i].lex >> set.lex & 1u)) return 0;
    size_t best = 0;
    for (size_t p = 0; p < set.n; p++) {
        const char *ph = set.phrases[p];
        size_t j = i, k = 0;
        bool ok = true;
        while (*ph) {
            const char *sp = strchr(ph, ' ');
            size_t len = sp ? (size_t)(sp - ph) : strlen(ph);
            if (j >= t->n || t->items[j].kind == TOK_PUNCT || t->items[j].finding >= 0 ||
                strlen(t->items[j].norm) != len || memcmp(t->items[j].norm, ph, len) != 0) {
                ok = false;
                break;
            }
            j++;
            k++;
            ph += len;
            if (*ph == ' ') ph++;
        }
        if (ok && k > best) best = k;
    }
    return best;
}

/* Like phrase_at, but also over claimed tokens (the novelty words may sit inside a
 * finding's span, e.g. "headache like this"). */
static bool phrase_at_any(const tok_list *t, size_t i, const char *const *list, size_t n, int bit) {
    if (i >= t->n || !(t->items[i].lex >> bit & 1u)) return false;
    for (size_t p = 0; p < n; p++) {
        const char *ph = list[p];
        size_t j = i;
        bool ok = true;
        while (*ph) {
            const char *sp = strchr(ph, ' ');
            size_t len = sp ? (size_t)(sp - ph) : strlen(ph);
            if (j >= t->n || t->items[j].kind == TOK_PUNCT || strlen(t->items[j].norm) != len ||
                memcmp(t->items[j].norm, ph, len) != 0) {
                ok = false;
                break;
            }
            j++;
            ph += len;
            if (*ph == ' ') ph++;
        }
        if (ok) return true;
    }
    return false;
}

static bool is_clause_break(const tok *t) { return tok_is_clause_break(t); }

/* Whether a pre-trigger scope ends at token j. */
static bool scope_ends(const tok_list *t, size_t j, size_t from, bool comma_ends) {
    const tok *x = &t->items[j];
    if (is_clause_break(x)) return true;
    if (x->kind == TOK_PUNCT && x->punct == ':') return true;
    if (x->finding >= 0) return false;
    if (x->kind == TOK_PUNCT && x->punct == ',') {
        if (comma_ends) return true;
        return j + 1 < t->n && t->items[j + 1].finding < 0 && t->items[j + 1].kind == TOK_WORD &&
               TIN(&t->items[j + 1], k_new_subject);
    }
    if (x->kind != TOK_WORD) return false;
    if (TIN(x, k_terminators)) return true;
    if (strcmp(x->norm, "and") == 0 || strcmp(x->norm, "so") == 0)
        return j + 1 < t->n && t->items[j + 1].finding < 0 && t->items[j + 1].kind == TOK_WORD &&
               TIN(&t->items[j + 1], k_new_subject);
    /* "no fever I have a cough": a new "I" starts a new statement, unless it directly
     * follows the trigger ("not sure if I have ..."). */
    if (j > from && (strcmp(x->norm, "i") == 0 || strcmp(x->norm, "im") == 0 || strcmp(x->norm, "ive") == 0))
        return true;
    return false;
}

/* Applies fn to each finding that starts within the forward scope of a trigger ending
 * at token `from` (exclusive start). */
typedef void (*finding_fn)(parse_state *ps, size_t f, void *arg);

static void forward_scope(parse_state *ps, size_t from, size_t max_tokens, bool comma_ends, finding_fn fn,
                          void *arg) {
    const tok_list *t = &ps->toks;
    size_t count = 0;
    int32_t last = -1;
    for (size_t j = from; j < t->n && count < max_tokens; j++) {
        if (scope_ends(t, j, from, comma_ends)) break;
        const tok *x = &t->items[j];
        /* A comma continues a negated list ("no fever, cough or cold") only when the
         * scope has already reached a finding; "not interested in feeds, high
         * temperature" ends at the comma. */
        if (x->finding < 0 && x->kind == TOK_PUNCT && x->punct == ',' && last < 0) break;
        if (x->finding >= 0) {
            if (x->finding != last) fn(ps, (size_t)x->finding, arg);
            last = x->finding;
            continue; /* a finding's own words do not use up the scope */
        }
        count++;
    }
}

static void set_absent(parse_state *ps, size_t f, void *arg) {
    (void)arg;
    ps->findings[f].status = MD_OBS_STATUS_ABSENT;
}
static void set_unknown(parse_state *ps, size_t f, void *arg) {
    (void)arg;
    ps->findings[f].status = MD_OBS_STATUS_UNKNOWN;
}
static void set_context(parse_state *ps, size_t f, void *arg) {
    md_obs_context ctx = *(md_obs_context *)arg;
    if (ps->findings[f].context == MD_OBS_CONTEXT_CURRENT) ps->findings[f].context = ctx;
}

/* Clause around token i: [*b, *e), bounded by breaks, commas and terminators. */
static void clause_bounds(const tok_list *t, size_t i, size_t *b, size_t *e) {
    size_t lo = i;
    while (lo > 0) {
        const tok *x = &t->items[lo - 1];
        if (x->finding < 0 && (x->kind == TOK_PUNCT || (x->kind == TOK_WORD && TIN(x, k_terminators)))) break;
        if (x->finding < 0 && x->kind == TOK_WORD && strcmp(x->norm, "and") == 0 && lo < t->n &&
            t->items[lo].kind == TOK_WORD && (strcmp(t->items[lo].norm, "now") == 0))
            break;
        lo--;
    }
    size_t hi = i + 1;
    while (hi < t->n) {
        const tok *x = &t->items[hi];
        if (x->finding < 0 && (x->kind == TOK_PUNCT || (x->kind == TOK_WORD && TIN(x, k_terminators)))) break;
        if (x->finding < 0 && x->kind == TOK_WORD && strcmp(x->norm, "and") == 0 && hi + 1 < t->n &&
            t->items[hi + 1].kind == TOK_WORD && TIN(&t->items[hi + 1], k_new_subject))
            break;
        hi++;
    }
    *b = lo;
    *e = hi;
}

static void historical_clause(parse_state *ps, size_t trig_begin, size_t trig_len, bool ago_form) {
    const tok_list *t = &ps->toks;
    size_t b, e;
    clause_bounds(t, trig_begin, &b, &e);
    if (ago_form) {
        for (size_t j = b; j < e; j++)
            if (t->items[j].finding < 0 && t->items[j].kind == TOK_WORD && TIN(&t->items[j], k_ongoing)) return;
    }
    (void)trig_len;
    for (size_t j = b; j < e; j++)
        if (t->items[j].finding >= 0) {
            md_finding *f = &ps->findings[t->items[j].finding];
            if (f->context == MD_OBS_CONTEXT_CURRENT) f->context = MD_OBS_CONTEXT_HISTORICAL;
        }
}

static void family_scope(parse_state *ps, size_t rel, bool proxy, bool past_known) {
    const tok_list *t = &ps->toks;
    /* Scope: from the relative to the end of its clause; a following "I"/"me" ends it. */
    size_t e = rel + 1;
    bool past = past_known;
    while (e < t->n) {
        const tok *x = &t->items[e];
        if (x->finding < 0) {
            if (is_clause_break(x)) break;
            if (x->kind == TOK_WORD && (TIN(x, k_terminators) || strcmp(x->norm, "i") == 0 ||
                                        strcmp(x->norm, "im") == 0 || strcmp(x->norm, "ive") == 0 ||
                                        strcmp(x->norm, "me") == 0 || strcmp(x->norm, "myself") == 0))
                break;
            if (x->kind == TOK_WORD && TIN(x, k_past_markers)) past = true;
        }
        e++;
    }
    /* "runs in the family", "family history" put earlier findings of the clause in scope too. */
    size_t b = rel;
    if (!proxy && strcmp(t->items[rel].norm, "family") == 0) {
        size_t cb, ce;
        clause_bounds(t, rel, &cb, &ce);
        b = cb;
        past = true;
    }
    /* A relative's event happening now ("my dad just collapsed", "mum is having chest
     * pain"): the writer is reporting for the patient, so it stays current. */
    if (!proxy && strcmp(t->items[rel].norm, "family") != 0) {
        bool strong = past_known, acute = false, weak = false, symptom = false;
        for (size_t j = rel + 1; j < e; j++) {
            const tok *x = &t->items[j];
            if (x->kind == TOK_WORD && TIN(x, k_strong_past)) strong = true;
            if (x->kind == TOK_WORD && TIN(x, k_acute_markers)) acute = true;
            if (x->kind == TOK_WORD && strcmp(x->norm, "had") == 0) weak = true;
            if (x->finding >= 0) {
                md_obs_kind k = ps->kb->obs[ps->findings[x->finding].obs].kind;
                if (k == MD_OBS_KIND_SYMPTOM || k == MD_OBS_KIND_SIGN) symptom = true;
            }
        }
        if (!strong && (acute || (!weak && symptom))) proxy = true;
        if (proxy) past = strong;
    }
    for (size_t j = b; j < e; j++) {
        if (t->items[j].finding < 0) continue;
        md_finding *f = &ps->findings[t->items[j].finding];
        const md_kb_observation *o = &ps->kb->obs[f->obs];
        bool chronic = o->kind == MD_OBS_KIND_HISTORY || o->kind == MD_OBS_KIND_RISK_FACTOR;
        if (proxy) {
            if (past && chronic && f->context == MD_OBS_CONTEXT_CURRENT) f->context = MD_OBS_CONTEXT_FAMILY;
        } else if ((past || chronic) && f->context == MD_OBS_CONTEXT_CURRENT) {
            f->context = MD_OBS_CONTEXT_FAMILY;
        }
    }
}

static const char *const k_novelty[] = {"like this", "like that", "like it", "this bad", "so bad", "before",
                                        "this severe", "as bad", "anything like"};

/* "never had a headache like this", "never felt anything like it before": the clause
 * after "never" talks about novelty. */
static bool novelty_clause(const tok_list *t, size_t i) {
    for (size_t j = i + 1; j < t->n && j < i + 10; j++) {
        const tok *y = &t->items[j];
        if (tok_is_clause_break(y) || (y->kind == TOK_PUNCT && y->punct == ',')) break;
        if (phrase_at_any(t, j, k_novelty, MD_ARRAY_LEN(k_novelty), LEX_k_novelty)) return true;
    }
    return false;
}

static bool tight_post_negation(const tok_list *t, size_t j) {
    /* token j is a tight post-negation word; it must end its clause */
    if (j + 1 < t->n) {
        const tok *n = &t->items[j + 1];
        if (!(n->kind == TOK_PUNCT)) return false;
    }
    return true;
}

/* Question openers that may overlap a finding ("could I *have a stroke*"): checked
 * over all tokens, claimed or not. */
static const char *const k_hypothetical_questions[] = {"could i have", "could i get", "can i get", "would i have",
                                                      "will i get", "am i going to get", "am i likely to get"};

static void hypothetical_questions(parse_state *ps) {
    const tok_list *t = &ps->toks;
    md_obs_context ctx = MD_OBS_CONTEXT_HYPOTHETICAL;
    for (size_t i = 0; i < t->n; i++) {
        if (t->items[i].kind != TOK_WORD ||
            !phrase_at_any(t, i, k_hypothetical_questions, MD_ARRAY_LEN(k_hypothetical_questions), LEX_k_hypothetical_questions))
            continue;
        int32_t last = -1;
        for (size_t j = i; j < t->n; j++) {
            const tok *y = &t->items[j];
            if (y->finding < 0 && (y->kind == TOK_PUNCT || (y->kind == TOK_WORD && TIN(y, k_terminators)))) break;
            if (y->finding >= 0 && y->finding != last) set_context(ps, (size_t)y->finding, &ctx);
            last = y->finding;
        }
    }
}

void context_apply(parse_state *ps) {
    tok_list *t = &ps->toks;
    hypothetical_questions(ps);
    for (size_t i = 0; i < t->n;) {
        tok *x = &t->items[i];
        if (x->finding >= 0 || x->kind == TOK_PUNCT) {
            i++;
            continue;
        }
        size_t n;
        if ((n = phrase_at(t, i, SET(k_uncertain))) > 0) {
            forward_scope(ps, i + n, SCOPE_TOKENS, false, set_unknown, NULL);
            i += n;
            continue;
        }
        if ((n = phrase_at(t, i, SET(k_pseudo))) > 0) {
            i += n;
            continue;
        }
        size_t n_hyp = phrase_at(t, i, SET(k_hypothetical));
        if (n_hyp > 0) {
            md_obs_context ctx = MD_OBS_CONTEXT_HYPOTHETICAL;
            /* "if I walk, I get chest pain" / "if I walk I get chest pain": the if-clause
             * ends at a comma, "then", or a second "I". */
            size_t j = i + n_hyp, seen_i = 0;
            int32_t last = -1;
            for (; j < t->n; j++) {
                const tok *y = &t->items[j];
                if (y->finding < 0) {
                    if (y->kind == TOK_PUNCT) break;
                    if (y->kind == TOK_WORD && (strcmp(y->norm, "then") == 0 || TIN(y, k_terminators))) break;
                    if (y->kind == TOK_WORD && (strcmp(y->norm, "i") == 0 || strcmp(y->norm, "im") == 0) &&
                        ++seen_i >= 2)
                        break;
                    continue;
                }
                if (y->finding != last) set_context(ps, (size_t)y->finding, &ctx);
                last = y->finding;
            }
            i += n_hyp;
            continue;
        }
        if (strcmp(x->norm, "in") == 0 && i + 1 < t->n && t->items[i + 1].kind == TOK_NUMBER &&
            t->items[i + 1].number >= 1900 && t->items[i + 1].number < 2100) {
            historical_clause(ps, i, 2, false); /* "had a stroke in 2015" */
            i += 2;
            continue;
        }
        size_t n_hist = phrase_at(t, i, SET(k_historical));
        if (n_hist > 0) {
            bool ago = strcmp(t->items[i + n_hist - 1].norm, "ago") == 0 || strcmp(t->items[i].norm, "last") == 0;
            historical_clause(ps, i, n_hist, ago);
            i += n_hist;
            continue;
        }
        if ((n = phrase_at(t, i, SET(k_post_negation))) > 0) {
            /* Resolution ends its clause ("the headache has gone", "... went away now");
             * "gone to my arm", "has gone ashen", "stopped breathing" are not resolution. */
            const tok *after = i + n < t->n ? &t->items[i + n] : NULL;
            bool ends = !after || after->kind == TOK_PUNCT ||
                        (after->kind == TOK_WORD && (TIN(after, k_resolution_adverbs) ||
                                                     TIN(after, k_terminators) || tok_is(after, "and")));
            if (ends) {
                for (size_t k = i, steps = 0; k > 0 && steps < 6; k--, steps++) {
                    const tok *y = &t->items[k - 1];
                    if (y->finding >= 0) {
                        ps->findings[y->finding].status = MD_OBS_STATUS_ABSENT;
                        break;
                    }
                    if (is_clause_break(y) || (y->kind == TOK_WORD && TIN(y, k_terminators))) break;
                }
            }
            /* "no longer" is also a pre-trigger ("no longer have pain"). */
            if (!(strcmp(t->items[i].norm, "no") == 0 && n == 2)) {
                i += n;
                continue;
            }
        }
        if (TIN(x, k_post_negation_tight) && i > 0 && tight_post_negation(t, i)) {
            /* "chest pain? no" / "fever: none" */
            size_t k = i;
            while (k > 0 && t->items[k - 1].kind == TOK_PUNCT && strchr(":?,-", t->items[k - 1].punct)) k--;
            if (k > 0 && k < i && t->items[k - 1].finding >= 0) {
                ps->findings[t->items[k - 1].finding].status = MD_OBS_STATUS_ABSENT;
                i++;
                continue;
            }
        }
        if ((strcmp(x->norm, "never") == 0 || strcmp(x->norm, "not") == 0) && novelty_clause(t, i)) {
            /* "never had a headache like this": a new experience, not a negation */
            i++;
            continue;
        }
        if (TIN(x, k_post_normal) && i > 0 &&
            (i + 1 >= t->n || t->items[i + 1].kind == TOK_PUNCT || tok_is(&t->items[i + 1], "and") ||
             tok_is(&t->items[i + 1], "but") || tok_is(&t->items[i + 1], "now"))) {
            size_t k = i;
            while (k > 0 && t->items[k - 1].finding < 0 && t->items[k - 1].kind == TOK_WORD &&
                   TIN(&t->items[k - 1], k_normal_glue))
                k--;
            if (k > 0 && t->items[k - 1].finding >= 0 && ps->findings[t->items[k - 1].finding].status == MD_OBS_STATUS_PRESENT) {
                ps->findings[t->items[k - 1].finding].status = MD_OBS_STATUS_ABSENT;
                i++;
                continue;
            }
        }
        if ((n = phrase_at(t, i, SET(k_pre_negation))) > 0) {
            forward_scope(ps, i + n, SCOPE_TOKENS, false, set_absent, NULL);
            i += n;
            continue;
        }
        if (TIN(x, k_relatives_family)) {
            family_scope(ps, i, false, false);
        } else if (TIN(x, k_relatives_proxy)) {
            family_scope(ps, i, true, false);
        } else if (phrase_at(t, i, SET(k_in_family))) {
            size_t b, e;
            clause_bounds(t, i, &b, &e);
            for (size_t j = b; j < e; j++)
                if (t->items[j].finding >= 0 && ps->findings[t->items[j].finding].context == MD_OBS_CONTEXT_CURRENT)
                    ps->findings[t->items[j].finding].context = MD_OBS_CONTEXT_FAMILY;
        }
        i++;
    }
    /* A relative named inside a finding ("mum died" is bereavement) still makes what
     * follows theirs: "mum died of a heart attack". */
    for (size_t i = 0; i < t->n; i++) {
        const tok *x = &t->items[i];
        if (x->finding < 0 || x->kind != TOK_WORD || !TIN(x, k_relatives_family)) continue;
        int32_t own = x->finding;
        size_t j = i + 1;
        bool past = false;
        while (j < t->n && t->items[j].finding == own) {
            past |= TIN(&t->items[j], k_past_markers);
            j++;
        }
        family_scope(ps, j - 1, false, past);
    }
    /* "worse when I cough", "hurts when breathing in": the finding after "when" is the
     * trigger of another symptom, not a symptom the patient reports. */
    for (size_t m = 0; m < ps->n_matches; m++) {
        size_t b = ps->matches[m].tok_begin;
        if (b == 0 || ps->findings[m].status != MD_OBS_STATUS_PRESENT) continue;
        size_t k = b;
        if (k > 0 && tok_is(&t->items[k - 1], "i")) k--;
        if (k == 0 || !(tok_is(&t->items[k - 1], "when") || tok_is(&t->items[k - 1], "whenever") ||
                        tok_is(&t->items[k - 1], "while") || tok_is(&t->items[k - 1], "on")))
            continue;
        for (size_t j = k - 1, steps = 0; j > 0 && steps < 4; j--, steps++) {
            const tok *y = &t->items[j - 1];
            if (y->kind == TOK_PUNCT) break;
            if (y->kind == TOK_WORD && TIN(y, k_aggravation)) {
                ps->findings[m].status = MD_OBS_STATUS_UNKNOWN;
                break;
            }
        }
    }
    /* Negation written inside a phrase ("chest doesn't hurt"). */
    for (size_t m = 0; m < ps->n_matches; m++)
        if (ps->matches[m].negated_inside) ps->findings[m].status = MD_OBS_STATUS_ABSENT;

    /* Map past and family mentions onto history observations; a history-kind finding in
     * a historical clause is simply the patient's own history. */
    for (size_t f = 0; f < ps->n_matches; f++) {
        md_finding *fd = &ps->findings[f];
        const md_kb_observation *o = &ps->kb->obs[fd->obs];
        if (fd->context == MD_OBS_CONTEXT_HISTORICAL) {
            if (o->history_of >= 0) {
                fd->obs = (uint32_t)o->history_of;
                fd->context = MD_OBS_CONTEXT_CURRENT;
            } else if (o->kind == MD_OBS_KIND_HISTORY) {
                /* "history of asthma" is the patient's own history, present now */
                fd->context = MD_OBS_CONTEXT_CURRENT;
            }
        } else if (fd->context == MD_OBS_CONTEXT_FAMILY && o->family_of >= 0) {
            fd->obs = (uint32_t)o->family_of;
            fd->context = MD_OBS_CONTEXT_CURRENT;
        }
    }
}

md_status context_lexicon(md_map *lx) {
    md_status st = MD_OK;
#define ADD(arr) if (st == MD_OK) st = lexicon_add(lx, LEX_##arr, &(arr)[0], MD_ARRAY_LEN(arr), sizeof(arr)[0])
    ADD(k_pseudo);
    ADD(k_uncertain);
    ADD(k_pre_negation);
    ADD(k_post_negation_tight);
    ADD(k_resolution_adverbs);
    ADD(k_post_negation);
    ADD(k_hypothetical);
    ADD(k_historical);
    ADD(k_ongoing);
    ADD(k_relatives_family);
    ADD(k_relatives_proxy);
    ADD(k_past_markers);
    ADD(k_strong_past);
    ADD(k_acute_markers);
    ADD(k_in_family);
    ADD(k_terminators);
    ADD(k_new_subject);
    ADD(k_novelty);
    ADD(k_hypothetical_questions);
    ADD(k_post_normal);
    ADD(k_normal_glue);
    ADD(k_aggravation);
#undef ADD
    return st;
}
