#!/bin/sh
# Writes N synthetic cases in PMC-Patients CSV format to stdout (deterministic for a
# given N, SENTENCES and SEED). Texts are unique per row and exercise the CSV
# quoting: commas everywhere, doubled quotes in some rows, line breaks in others.
# Ages cycle through every unit; dicts are Python literals as in the real corpus.
# Every 25th case is three times as long, so long texts (chunked by the store) occur.
# Usage: gen_pmc_csv.sh N [SENTENCES_PER_CASE=6] [SEED=1]
n=${1:?usage: gen_pmc_csv.sh N [SENTENCES] [SEED]}
sentences=${2:-6}
seed=${3:-1}
awk -v n="$n" -v ns="$sentences" -v seed="$seed" 'BEGIN {
    srand(seed)
    split("chest pain,shortness of breath,fever,headache,abdominal pain,cough,fatigue,rash,vomiting,dizziness,back pain,palpitations", sym, ",")
    split("hypertension,type 2 diabetes,asthma,no past history,smoking,atrial fibrillation,chronic kidney disease,depression", hist, ",")
    split("an ECG,a chest radiograph,blood tests,an abdominal CT,an MRI of the brain,an echocardiogram,a lumbar puncture", test, ",")
    split("myocardial infarction,pneumonia,migraine,appendicitis,pulmonary embolism,meningitis,urinary tract infection,gastroenteritis", dx, ",")
    split("recovered fully,was discharged on day 5,was followed up for 6 months,needed surgery,improved with antibiotics", out, ",")
    split("year,month,week,day,hour", unit, ",")
    print "patient_id,patient_uid,PMID,file_path,title,patient,age,gender,relevant_articles,similar_patients"
    for (i = 1; i <= n; i++) {
        pmid = 30000000 + i
        u = unit[(i % 5) + 1]
        v = (u == "year") ? int(rand() * 90) + 1 : (u == "month") ? int(rand() * 11) + 1 : int(rand() * 20) + 1
        sex = (rand() < 0.5) ? "M" : "F"
        word = (sex == "M") ? "man" : "woman"
        s1 = sym[int(rand() * 12) + 1]; s2 = sym[int(rand() * 12) + 1]
        text = "Case " i ": a " v "-" u "-old " word " presented with " s1 ", then " s2 ", over " int(rand() * 14) + 1 " days."
        nk = (i % 25 == 0) ? 3 * ns : ns
        for (k = 1; k < nk; k++) {
            r = int(rand() * 5)
            if (r == 0) text = text " History included " hist[int(rand() * 8) + 1] ", with no known allergies."
            else if (r == 1) text = text " On examination the temperature was " 36 + int(rand() * 40) / 10 " C, pulse " 60 + int(rand() * 70) "/min."
            else if (r == 2) text = text " Investigation with " test[int(rand() * 7) + 1] " showed findings consistent with " dx[int(rand() * 8) + 1] "."
            else if (r == 3) text = text " The patient " out[int(rand() * 5) + 1] ", and the family was informed."
            else text = text " Treatment was started promptly; the response was monitored closely, day by day."
        }
        if (i % 7 == 0) text = text " She said \"\"it hurts\"\" twice."
        if (i % 11 == 0) text = text "\nA second paragraph followed, after a line break."
        age = "[[" v ".0, '\''" u "'\'']]"
        if (i % 13 == 0) age = "[[" int(v / 2) ".0, '\''year'\''], [6.0, '\''month'\'']]"
        rel = "{'\''" (pmid - 1) "'\'': 1, '\''" (pmid + 7) "'\'': 2}"
        sim = (i > 1) ? "{'\''" (pmid - 1) "-1'\'': 1}" : "{}"
        printf "%d,%d-1,%d,PMC%d.xml,\"Case report %d, %s\",\"%s\",\"%s\",%s,\"%s\",\"%s\"\n", i, pmid, pmid, pmid, i, dx[(i % 8) + 1], text, age, sex, rel, sim
    }
}'
