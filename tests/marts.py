"""The public marts (the interface analysts and BI tools read), as the methodology issue lists them."""

PUBLIC_MARTS = frozenset(
    {
        "dim_school",
        "dim_school_group",
        "dim_list_year",
        "dim_methodology_profile",
        "fct_delivery_completeness",
        "fct_procedure_results",
        "fct_shnor_list",
        "fct_isbsh",
        "fct_resource_deficits",
        "fct_risk_profile",
        "fct_procedure_dynamics",
        "fct_cluster_transitions",
        "fct_academic_debt",
        "fct_programme_targets",
        "rpt_academic_debt_by_municipality",
        "rpt_dynamics_by_group",
        "rpt_cluster_transitions_by_group",
        "rpt_procedures_not_conducted",
        "rpt_resource_deficits_by_municipality",
        "rpt_risk_zone_by_municipality",
        "rpt_dynamics_urban_rural",
        "rpt_shnor_by_cluster",
    }
)

# the public marts that the methodology profile does not shape (no profile columns)
PROFILE_FREE_MARTS = frozenset(
    {
        "dim_school",
        "fct_academic_debt",
        "fct_delivery_completeness",
        "fct_programme_targets",
        "rpt_academic_debt_by_municipality",
    }
)
