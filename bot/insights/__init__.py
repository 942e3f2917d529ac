"""What users asked that the assistant could not answer, for the service developers of
work package 6: the unresolved-question log and feedback (log), reports (report, render),
topic discovery (clusters), the NLU inbox (inbox) and retention (retention).

Every piece of free text stored or shown here went through bot.privacy.masking.mask.
"""
