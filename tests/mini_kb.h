/* A small hand-written knowledge base for unit tests of the clinical engine, so the
 * tests pin the engine's behaviour independently of the shipped data/kb files. */
#ifndef MEDIFY_TESTS_MINI_KB_H
#define MEDIFY_TESTS_MINI_KB_H

#include "medify/clinical.h"

static const char k_mini_observations[] =
    "observation chest_pain\n"
    "  name: Chest pain\n  kind: symptom\n"
    "  synonyms: chest pain; pain in chest; chest hurts; chest ache; cp\n"
    "  question: Do you have chest pain?\n  base_rate: 0.03\n"
    "  screen: crushing_chest_pain; severe_breathing_difficulty\n"
    "  attributes: onset; severity; duration\n"
    "observation crushing_chest_pain\n"
    "  name: Crushing chest pain\n  kind: symptom\n"
    "  synonyms: crushing chest pain; elephant on my chest; chest pressure\n"
    "  question: Does it feel like pressure or crushing?\n  base_rate: 0.005\n  implies: chest_pain\n"
    "observation severe_breathing_difficulty\n"
    "  name: Severe difficulty breathing\n  kind: symptom\n"
    "  synonyms: cant breathe; can not breathe; difficulty breathing; struggling to breathe; cant breath\n"
    "  question: Are you struggling to breathe?\n  base_rate: 0.005\n  implies: shortness_of_breath\n"
    "observation shortness_of_breath\n"
    "  name: Shortness of breath\n  kind: symptom\n"
    "  synonyms: short of breath; sob; breathless; out of breath\n"
    "  question: Are you short of breath?\n  base_rate: 0.05\n"
    "observation fever\n"
    "  name: Fever\n  kind: symptom\n  synonyms: fever; temperature; feverish; high temp\n"
    "  question: Do you have a fever?\n  base_rate: 0.08\n  attributes: temperature\n"
    "observation headache\n"
    "  name: Headache\n  kind: symptom\n  synonyms: headache; head ache; head hurts; head pain\n"
    "  question: Do you have a headache?\n  base_rate: 0.08\n  attributes: onset; severity\n"
    "observation headache_throbbing\n"
    "  name: Throbbing headache\n  kind: symptom\n  synonyms: throbbing headache; pounding headache\n"
    "  question: Is it throbbing?\n  implies: headache\n"
    "observation neck_stiffness\n"
    "  name: Stiff neck\n  kind: sign\n  synonyms: stiff neck; neck stiff; neck stiffness\n"
    "  question: Is your neck stiff?\n  base_rate: 0.02\n"
    "observation cough\n"
    "  name: Cough\n  kind: symptom\n  synonyms: cough; coughing\n"
    "  question: Do you have a cough?\n  base_rate: 0.1\n"
    "observation runny_nose\n"
    "  name: Runny nose\n  kind: symptom\n  synonyms: runny nose; streaming nose\n"
    "  question: Do you have a runny nose?\n  base_rate: 0.05\n"
    "observation nausea\n"
    "  name: Nausea\n  kind: symptom\n  synonyms: nausea; feel sick; nauseous\n"
    "  question: Do you feel sick?\n  base_rate: 0.06\n"
    "observation sweating\n"
    "  name: Sweating\n  kind: symptom\n  synonyms: sweating; sweaty; clammy\n"
    "  question: Are you sweating?\n  base_rate: 0.03\n"
    "observation self_report_heart_attack\n"
    "  name: Heart attack (reported)\n  kind: symptom\n  synonyms: heart attack; having a heart attack\n"
    "  question: Do you think you are having a heart attack?\n  base_rate: 0.002\n"
    "  history: hx_heart_disease\n  family: fhx_heart_disease\n"
    "observation hx_heart_disease\n"
    "  name: History of heart disease\n  kind: history\n  synonyms: heart disease; angina history\n"
    "  question: Have you ever had heart disease?\n  base_rate: 0.08\n"
    "observation fhx_heart_disease\n"
    "  name: Family history of heart disease\n  kind: history\n  synonyms: family history of heart disease\n"
    "  question: Has a close relative had heart disease?\n  base_rate: 0.15\n"
    "observation skin_redness_swelling\n"
    "  name: Red swollen skin\n  kind: sign\n  synonyms: red hot swollen; red swollen skin\n"
    "  question: Is there a red, hot, swollen area of skin?\n"
    "observation syncope\n"
    "  name: Fainting\n  kind: symptom\n  synonyms: fainted; passed out\n"
    "  question: Did you faint?\n  base_rate: 0.01\n"
    "observation vasovagal_trigger\n"
    "  name: Faint with a clear trigger\n  kind: symptom\n  synonyms: fainted at blood test; fainted having blood taken\n"
    "  question: Did it happen with a blood test?\n  implies: syncope\n"
    "observation hx_diabetes\n"
    "  name: Diabetes\n  kind: history\n  synonyms: diabetes; diabetic\n"
    "  question: Do you have diabetes?\n  base_rate: 0.08\n";

static const char k_mini_conditions[] =
    "condition acute_coronary_syndrome\n"
    "  name: Acute coronary syndrome\n  icd10: I21.9\n  system: cardiovascular\n"
    "  severity: critical\n  triage: emergency_ambulance\n"
    "  prior: infant=0 child=0.1 adolescent=0.2 adult=8 older=40\n  sex: male=1.4 female=0.7\n"
    "  evidence: chest_pain 0.9; crushing_chest_pain 0.5; sweating 0.4; nausea 0.3; shortness_of_breath 0.4; fever 0.02\n"
    "  next_steps: Call an ambulance\n  guidelines: NICE CG95\n"
    "condition common_cold\n"
    "  name: Common cold\n  icd10: J00\n  system: respiratory\n  severity: mild\n  triage: self_care\n"
    "  prior: infant=400 child=500 adolescent=400 adult=400 older=300\n"
    "  evidence: runny_nose 0.9; cough 0.6; fever 0.2; headache 0.3; chest_pain 0.01\n"
    "  next_steps: Rest and fluids\n  guidelines: NICE CKS Common cold\n"
    "condition migraine\n"
    "  name: Migraine\n  icd10: G43.909\n  system: neurological\n  severity: moderate\n  triage: consultation\n"
    "  prior: infant=0 child=15 adolescent=60 adult=120 older=25\n  sex: female=1.6 male=0.5\n"
    "  evidence: headache 0.98; headache_throbbing 0.7; nausea 0.6; fever 0.01; neck_stiffness 0.03\n"
    "  next_steps: Rest in a dark room\n  guidelines: NICE CG150\n"
    "condition bacterial_meningitis\n"
    "  name: Bacterial meningitis\n  icd10: G00.9\n  system: neurological\n  severity: critical\n"
    "  triage: emergency_ambulance\n  prior: infant=5 child=2 adolescent=2 adult=0.5 older=0.5\n"
    "  evidence: fever 0.9; headache 0.85; neck_stiffness 0.7; nausea 0.5\n"
    "  next_steps: Call an ambulance\n  guidelines: NICE NG240\n";

static const char k_mini_questions[] =
    "question headache_character\n"
    "  text: How would you describe the headache?\n  when: headache\n"
    "  choice: Throbbing or pounding = headache_throbbing\n  choice: None of these\n";

static const char k_mini_redflags[] =
    "redflag cardiac_chest_pain\n"
    "  name: Chest pain that could be a heart attack\n  level: emergency_ambulance\n"
    "  trigger: crushing_chest_pain\n  trigger: chest_pain + sweating\n"
    "  guidance: Call an ambulance now.\n"
    "redflag heart_attack\n"
    "  name: Possible heart attack\n  level: emergency_ambulance\n  trigger: self_report_heart_attack\n"
    "  guidance: Call an ambulance now.\n"
    "redflag breathing_difficulty\n"
    "  name: Severe difficulty breathing\n  level: emergency_ambulance\n  trigger: severe_breathing_difficulty\n"
    "  guidance: Call an ambulance now.\n"
    "redflag meningism\n"
    "  name: Possible meningitis\n  level: emergency_ambulance\n  trigger: fever + neck_stiffness\n"
    "  guidance: Call an ambulance now.\n"
    "redflag thunderclap_headache\n"
    "  name: Sudden severe headache\n  level: emergency_ambulance\n"
    "  trigger: headache[onset=sudden,severity>=8]\n  guidance: Call an ambulance now.\n"
    "redflag fainting\n"
    "  name: Fainted\n  level: emergency\n  trigger: syncope + !vasovagal_trigger\n"
    "  guidance: Get seen now.\n"
    "redflag infant_fever\n"
    "  name: Fever in a baby under 3 months\n  level: emergency\n  trigger: fever + age<0.25\n"
    "  guidance: Go to the emergency department now.\n  crisis: no\n";

static inline md_kb *mini_kb_load(void) {
    const char *paths[] = {"observations.kb", "conditions.kb", "questions.kb", "redflags.kb"};
    const char *texts[] = {k_mini_observations, k_mini_conditions, k_mini_questions, k_mini_redflags};
    md_kb *kb = NULL;
    md_error err = {0};
    if (md_kb_load_files(4, paths, texts, &kb, &err) != MD_OK) {
        fprintf(stderr, "mini KB failed to load: %s\n", err.message);
        return NULL;
    }
    return kb;
}

#endif
