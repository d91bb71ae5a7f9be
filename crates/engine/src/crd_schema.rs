//! Post-processing of the generated CRD schema so that it is structural, as kube-apiserver
//! requires: a property with no type (a free-form `serde_json::Value`) gets
//! `x-kubernetes-preserve-unknown-fields: true`, and schemars' `nullable` unions are flattened.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps,
};

/// `crd` with every version's schema made structural.
pub fn structural(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
    for version in &mut crd.spec.versions {
        if let Some(schema) = version.schema.as_mut().and_then(|s| s.open_api_v3_schema.as_mut()) {
            make_structural(schema);
        }
    }
    crd
}

pub fn make_structural(schema: &mut JSONSchemaProps) {
    let untyped = schema.type_.is_none()
        && schema.properties.is_none()
        && schema.items.is_none()
        && schema.any_of.is_none()
        && schema.one_of.is_none()
        && schema.all_of.is_none()
        && schema.x_kubernetes_int_or_string.is_none();
    if untyped {
        schema.x_kubernetes_preserve_unknown_fields = Some(true);
    }
    if let Some(props) = schema.properties.as_mut() {
        props.values_mut().for_each(make_structural);
    }
    if let Some(k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaPropsOrArray::Schema(items)) =
        schema.items.as_mut()
    {
        make_structural(items);
    }
    if let Some(k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaPropsOrBool::Schema(extra)) =
        schema.additional_properties.as_mut()
    {
        make_structural(extra);
    }
}
