import { TABLES } from "@surplus/adapters/dynamodb";
import { CfnOutput, Stack, type StackProps } from "aws-cdk-lib";
import type { Construct } from "constructs";
import { Registries, type RegistriesProps } from "../constructs/registries.ts";

export interface RegistriesStackProps extends StackProps {
  /** The tables' settings (see `Registries` for the defaults). @default {} */
  readonly registries?: RegistriesProps;
}

/** The DynamoDB registries; outputs each table's name. */
export class RegistriesStack extends Stack {
  readonly registries: Registries;

  constructor(scope: Construct, id: string, props: RegistriesStackProps = {}) {
    super(scope, id, props);
    this.registries = new Registries(this, "Registries", props.registries ?? {});
    for (const name of TABLES) {
      new CfnOutput(this, `${name}TableName`, { value: this.registries.tables[name].table.tableName });
    }
  }
}
